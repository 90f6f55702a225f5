"""GraphQL object types, each built from a model by `from_model` (types are not rows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from datetime import date, datetime
from typing import Any, Self, TypeVar

import strawberry
from strawberry.scalars import JSON
from tortoise.models import Model

import models
from graph.context import Info
from graph.enums import (
    ApprovalMode,
    ErrorCode,
    LotStatus,
    PurchaseStatus,
    QuoteStatus,
    RedemptionStatus,
    TransactionKind,
)
from graph.ids import to_global_id
from ledger import access, balances, clock
from ledger.accounts import display_code


@strawberry.interface(description="An object with a global id: `node(id:)` reads any of them back.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque and global: the same object always has the same id, and no "
        "two objects of any type share one. Pass it back as it is; it is not a number."
    )


class FromModel:
    """A type built from a row (or any object with the same names): each field is the
    row's attribute of that name, `id` as the type's global id, and a private `row`
    keeps the row."""

    @classmethod
    def from_model(cls, row: Any) -> Self:
        return cls.copied_from(row)

    @classmethod
    def copied_from(cls, row: Any, **computed: Any) -> Self:
        values = {
            name: _copied(cls, row, name) for name in _init_fields(cls) if name not in computed
        }
        return cls(**values, **computed)


_INIT_FIELDS: dict[type, tuple[str, ...]] = {}


def _init_fields(cls: type) -> tuple[str, ...]:
    """The fields a type is built with (not its resolvers), found once per type."""
    found = _INIT_FIELDS.get(cls)
    if found is None:
        found = _INIT_FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.init)
    return found


def _copied(cls: type, row: Any, name: str) -> Any:
    if name == "row":
        return row
    if name == "id":
        return strawberry.ID(to_global_id(cls.__name__, int(row.id)))
    return getattr(row, name)


@strawberry.type
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = None


@strawberry.type
class User(FromModel, Node):
    id: strawberry.ID
    email: str
    name: str


@strawberry.type
class Balance(FromModel):
    available: int
    pending: int
    expiring_within_90_days: int = strawberry.field(name="expiringWithin90Days")
    next_expiry: datetime | None


@strawberry.type
class Account(FromModel, Node):
    id: strawberry.ID
    name: str
    approval_mode: ApprovalMode
    auto_approve_limit: int | None
    created_at: datetime
    row: strawberry.Private[models.Account]

    @strawberry.field
    async def owners(self, info: Info) -> list[User]:
        users = await info.context.loaders.owners_by_account.load(self.row.id)
        return [User.from_model(u) for u in users]

    @strawberry.field
    def redemption_code(self) -> str:
        """Learners enter this code at checkout; shown to owners only."""
        return display_code(self.row)

    @strawberry.field
    async def balance(self, info: Info) -> Balance:
        return Balance.from_model(await info.context.loaders.balances_by_account.load(self.row.id))


@strawberry.type
class Lot(FromModel, Node):
    id: strawberry.ID
    credits: int
    remaining: int
    purchased_at: datetime
    expires_at: datetime
    status: LotStatus

    @classmethod
    def from_model(cls, row: models.Lot) -> Self:
        return cls.copied_from(row, status=balances.lot_status(row, clock.now()))


@strawberry.type
class Purchase(FromModel, Node):
    id: strawberry.ID
    credits: int
    unit_price_cents: int
    discount_percent: int
    amount_cents: int
    status: PurchaseStatus
    created_at: datetime
    row: strawberry.Private[models.Purchase]

    @strawberry.field
    async def lot(self, info: Info) -> Lot | None:
        lot = await info.context.loaders.lots_by_purchase.load(self.row.id)
        return Lot.from_model(lot) if lot else None


R = TypeVar("R", bound=Model)


def _joined(row: Model, relation: str, model: type[R]) -> R | None:
    """The related row a `select_related` query already fetched, if it did."""
    found = getattr(row, f"_{relation}", None)  # where Tortoise keeps a fetched relation
    return found if isinstance(found, model) else None


def _kept(row: R | None, model: type[R], row_id: int) -> R:
    """A row that a RESTRICT foreign key keeps: its absence is a bug (answered INTERNAL)."""
    if row is None:
        raise RuntimeError(f"{model.__name__} {row_id} is gone though a foreign key keeps it")
    return row


async def _load_course(info: Info, course_id: int) -> Course:
    course = await info.context.loaders.courses_by_id.load(course_id)
    return Course.from_model(_kept(course, models.Course, course_id))


async def _load_user(info: Info, user_id: int) -> User:
    user = await info.context.loaders.users_by_id.load(user_id)
    return User.from_model(_kept(user, models.User, user_id))


async def _user(info: Info, user_id: int | None) -> User | None:
    row = await info.context.loaders.users_by_id.load(user_id) if user_id else None
    return User.from_model(row) if row else None


async def _lot(info: Info, lot_id: int | None) -> Lot | None:
    row = await info.context.loaders.lots_by_id.load(lot_id) if lot_id else None
    return Lot.from_model(row) if row else None


async def _purchase(info: Info, purchase_id: int | None) -> Purchase | None:
    row = await info.context.loaders.purchases_by_id.load(purchase_id) if purchase_id else None
    return Purchase.from_model(row) if row else None


@strawberry.type
class PriceSuggestion(FromModel):
    credits: int
    amount_cents: int


@strawberry.type
class PriceQuote(FromModel):
    credits: int
    unit_price_cents: int
    discount_percent: int
    list_amount_cents: int
    amount_cents: int
    promo_code: str | None
    suggestion: PriceSuggestion | None


@strawberry.type
class Course(FromModel, Node):
    id: strawberry.ID
    sku: str
    title: str
    price_credits: int
    active: bool


@strawberry.type
class Draw:
    credits: int
    row: strawberry.Private[models.Draw]

    @strawberry.field
    async def lot(self, info: Info) -> Lot:
        lot = await info.context.loaders.lots_by_id.load(self.row.lot_id)
        return Lot.from_model(_kept(lot, models.Lot, self.row.lot_id))


@strawberry.type
class Redemption(FromModel, Node):
    id: strawberry.ID
    status: RedemptionStatus
    credits: int
    requested_at: datetime
    decided_at: datetime | None
    reason: str | None
    row: strawberry.Private[models.Redemption]

    # Not `async`: a list joins its course and learner (ledger.redemptions.LISTED_WITH),
    # and answering those without a coroutine each saves graphql-core two tasks per row.
    # A row loaded alone answers an awaitable instead, which graphql-core awaits.
    @strawberry.field(graphql_type=Course)  # type: ignore[untyped-decorator]
    def course(self, info: Info) -> Course | Awaitable[Course]:
        course = _joined(self.row, "course", models.Course)
        if course is not None:
            return Course.from_model(course)
        return _load_course(info, self.row.course_id)

    @strawberry.field(graphql_type=User)  # type: ignore[untyped-decorator]
    def learner(self, info: Info) -> User | Awaitable[User]:
        user = _joined(self.row, "learner", models.User)
        if user is not None:
            return User.from_model(user)
        return _load_user(info, self.row.learner_id)

    @strawberry.field
    async def decided_by(self, info: Info) -> User | None:
        return await _user(info, self.row.decided_by_id)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Which lots paid for it, for the account's owners and support staff. "
        "Null for anyone else (the learner who asked included): they may not see the "
        "account's lots. An empty list means nothing has been drawn (yet)."
    )
    async def draws(self, info: Info) -> list[Draw] | None:
        actor = await info.context.actor()
        owned_account = info.context.loaders.owned_account_by_user.load
        if not await access.may_see_draws(actor, self.row, owned_account=owned_account):
            return None
        rows = await info.context.loaders.draws_by_redemption.load(self.row.id)
        return [Draw(credits=d.credits, row=d) for d in rows]


@strawberry.type
class Transaction(FromModel, Node):
    id: strawberry.ID
    kind: TransactionKind
    credits: int
    balance_after: int
    reason: str | None
    reference: str | None
    expires_at: datetime | None
    created_at: datetime
    row: strawberry.Private[models.LedgerEntry]

    @strawberry.field
    async def lot(self, info: Info) -> Lot | None:
        return await _lot(info, self.row.lot_id)

    @strawberry.field
    async def purchase(self, info: Info) -> Purchase | None:
        return await _purchase(info, self.row.purchase_id)

    @strawberry.field
    async def redemption(self, info: Info) -> Redemption | None:
        redemption_id = self.row.redemption_id
        row = (
            await info.context.loaders.redemptions_by_id.load(redemption_id)
            if redemption_id
            else None
        )
        return Redemption.from_model(row) if row else None

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        return await _user(info, self.row.actor_id)


@strawberry.type
class Viewer:
    user: User
    is_support: bool
    account_row: strawberry.Private[models.Account | None]

    @strawberry.field
    def account(self) -> Account | None:
        return Account.from_model(self.account_row) if self.account_row else None


@strawberry.type
class QuoteRequest(FromModel, Node):
    id: strawberry.ID
    credits: int
    unit_price_cents: int
    discount_percent: int
    amount_cents: int
    message: str
    status: QuoteStatus
    invoice_number: str | None
    cancel_reason: str | None
    created_at: datetime
    row: strawberry.Private[models.QuoteRequest]

    @strawberry.field
    async def account(self, info: Info) -> Account:
        account = await info.context.loaders.accounts_by_id.load(self.row.account_id)
        return Account.from_model(_kept(account, models.Account, self.row.account_id))

    @strawberry.field
    async def purchase(self, info: Info) -> Purchase | None:
        return await _purchase(info, self.row.purchase_id)


@strawberry.type
class AuditEvent(FromModel, Node):
    id: strawberry.ID
    action: str
    details: JSON
    reason: str | None
    created_at: datetime
    row: strawberry.Private[models.AuditEvent]

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        return await _user(info, self.row.actor_id)


@strawberry.type
class UsageMonth:
    month: str
    purchased: int
    redeemed: int
    expired: int
    reversed: int
    adjusted: int
    balance: int


@strawberry.type
class LearnerUsage:
    credits: int
    redemptions: int
    learner_id: strawberry.Private[int]

    @strawberry.field
    async def learner(self, info: Info) -> User:
        return await _load_user(info, self.learner_id)


@strawberry.type
class CourseUsage:
    credits: int
    redemptions: int
    course_id: strawberry.Private[int]

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return await _load_course(info, self.course_id)


@strawberry.type
class ExpiringMonth:
    month: str
    credits: int


@strawberry.type
class UsageReport:
    start: date = strawberry.field(name="from")
    end: date = strawberry.field(name="to")
    months: list[UsageMonth]
    top_learners: list[LearnerUsage]
    top_courses: list[CourseUsage]
    expiring_by_month: list[ExpiringMonth]


@strawberry.type
class ExportLink:
    url: str
    expires_at: datetime
