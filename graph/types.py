"""GraphQL object types, each built from a model by `from_model` (types are not rows)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from datetime import date, datetime
from typing import Any, Self, TypeVar

import strawberry
from strawberry.dataloader import DataLoader
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
from ledger import access, accounts, balances, clock


@strawberry.interface(description="An object with a global id: `node(id:)` reads any of them back.")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque and global: the same object always has the same id, and no "
        "two objects of any type share one. Pass it back as it is; it is not a number."
    )


ID = "Its global id (see `Node.id`): opaque, stable; `node(id:)` reads it back."
CREDITS_UNIT = "whole credits (1 credit = 1 USD at list price)"


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


@strawberry.type  # a base only, its `id` inherited: it is no type of the schema itself
class NodeType(FromModel, Node):
    """A type `node(id:)` reads back: built from a row, answering its global id as `id`."""

    id: strawberry.ID = strawberry.field(description=ID)


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


@strawberry.type(
    description="Why a mutation refused its input (or, for a batch, one item of it). "
    "Listed in the payload's `errors`; empty when the mutation succeeded."
)
class UserError:
    code: ErrorCode = strawberry.field(description="What went wrong; match on this.")
    message: str = strawberry.field(
        description="An English explanation for logs and fallback display; it may change, "
        "so never match on it."
    )
    field: list[str] | None = strawberry.field(
        default=None,
        description='The path of the input field at fault, e.g. `["credits"]`, or '
        '`["ids", "2"]` for one item of a list; null when no one field is at fault.',
    )


@strawberry.type(
    description="A person: someone who signed in with the identity provider, or an owner "
    "invited by email who has not signed in yet. You see yourself; owners see their "
    "co-owners and the learners who asked their account for credits; support staff see "
    "everyone."
)
class User(NodeType):
    email: str = strawberry.field(description="Their email address, lower-case.")
    name: str = strawberry.field(
        description="Their name, from the identity provider; empty for an invited owner "
        "until their first sign-in."
    )


@strawberry.type(
    description=f"An account's credits at this moment, in {CREDITS_UNIT}. Visible to "
    "its owners and support staff."
)
class Balance(FromModel):
    available: int = strawberry.field(
        description="Credits that can be spent now: the sum of what remains on the "
        "account's unexpired lots. Pending requests are not subtracted (see `pending`)."
    )
    pending: int = strawberry.field(
        description="Credits asked for by PENDING redemptions awaiting an owner's "
        "decision. Not deducted from `available` until approved; an approval that "
        "`available` cannot cover fails with INSUFFICIENT_CREDITS."
    )
    expiring_within_90_days: int = strawberry.field(
        name="expiringWithin90Days",
        description="The part of `available` on lots that expire within the next 90 days.",
    )
    next_expiry: datetime | None = strawberry.field(
        description="When the next lot with credits remaining expires; null when no "
        "unexpired lot has any left."
    )


@strawberry.type(
    description="An organisation's prepaid training credits: its owners, how learners' "
    "requests are approved, and the redemption code learners spend its credits with. "
    "Visible to its owners and to support staff."
)
class Account(NodeType):
    name: str = strawberry.field(
        description="The account's display name (1 to 200 characters); at creation, the "
        "creator's name unless one was given."
    )
    approval_mode: ApprovalMode = strawberry.field(
        description="How learners' redemption requests are decided."
    )
    auto_approve_limit: int | None = strawberry.field(
        description="In MANUAL mode, requests of at most this many credits are decided "
        "as in AUTOMATIC mode (approved at once if the balance covers them); null: none "
        "are. Ignored in AUTOMATIC mode."
    )
    created_at: datetime = strawberry.field(description="When the account was created.")
    row: strawberry.Private[models.Account]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Everyone who owns the account, invited owners who have not signed "
        "in yet included. Never empty."
    )
    async def owners(self, info: Info) -> list[User]:
        users = await info.context.loaders.owners_by_account.load(self.row.id)
        return [User.from_model(u) for u in users]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The code learners enter at checkout to spend this account's "
        "credits: 16 characters in groups of four (e.g. `7KQ2-M9XD-4RTV-H0BN`), accepted "
        "in any case, with or without spaces and dashes. `rotateRedemptionCode` replaces it."
    )
    def redemption_code(self) -> str:
        """Learners enter this code at checkout; shown to owners only."""
        return accounts.display_code(self.row)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The account's credits now."
    )
    async def balance(self, info: Info) -> Balance:
        return Balance.from_model(await info.context.loaders.balances_by_account.load(self.row.id))


@strawberry.type(
    description="The credits one paid purchase (or one positive support adjustment) "
    "added to an account; they expire together. Redemptions draw from the lots that "
    "expire soonest first. Visible to the account's owners and support staff."
)
class Lot(NodeType):
    credits: int = strawberry.field(description="Credits the lot was created with.")
    remaining: int = strawberry.field(
        description="Credits not yet spent, from 0 to `credits`. Once the lot has "
        "expired they cannot be spent, even before the nightly job writes them off "
        "(an EXPIRY transaction, which sets this to 0)."
    )
    purchased_at: datetime = strawberry.field(
        description="When payment was confirmed (for an adjustment, when it was made)."
    )
    expires_at: datetime = strawberry.field(
        description="The instant the lot expires: a year after `purchasedAt` (29 February "
        "gives 28 February), unless support staff extended it."
    )
    status: LotStatus = strawberry.field(description="Where the lot stands at this moment.")

    @classmethod
    def from_model(cls, row: models.Lot) -> Self:
        return cls.copied_from(row, status=balances.lot_status(row, clock.now()))


UNIT_PRICE = (
    "The price of one credit in US cents, after any discount: 100 at list price, 80 with 20 % off."
)
DISCOUNT = (
    "The discount, in percent: 20 for 20,000 credits or more (the `twentyoffTC` promo "
    "code names the same discount and never stacks), otherwise 0."
)


@strawberry.type(
    description="An order for credits, paid by card or by invoice. Its credits are added, "
    "as a lot, only once payment is confirmed. Visible to the account's owners and "
    "support staff."
)
class Purchase(NodeType):
    credits: int = strawberry.field(description="Credits bought (1 to 10,000,000).")
    unit_price_cents: int = strawberry.field(description=UNIT_PRICE)
    discount_percent: int = strawberry.field(description=DISCOUNT)
    amount_cents: int = strawberry.field(
        description="The total, in US cents: `credits` times `unitPriceCents`."
    )
    status: PurchaseStatus = strawberry.field(description="Where its payment stands.")
    created_at: datetime = strawberry.field(
        description="When it was ordered (for an invoice, when support staff marked the "
        "invoice paid)."
    )
    row: strawberry.Private[models.Purchase]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The lot the purchase added; null unless it is PAID."
    )
    async def lot(self, info: Info) -> Lot | None:
        return await _linked(info.context.loaders.lots_by_purchase, self.row.id, Lot)


R = TypeVar("R", bound=Model)
N = TypeVar("N", bound=FromModel)


def _joined(row: Model, relation: str, model: type[R]) -> R | None:
    """The related row a `select_related` query already fetched, if it did."""
    found = getattr(row, f"_{relation}", None)  # where Tortoise keeps a fetched relation
    return found if isinstance(found, model) else None


async def _kept(loader: DataLoader[int, R | None], row_id: int, node: type[N]) -> N:
    """The row a RESTRICT foreign key keeps, as a `node`: its absence is a bug (INTERNAL)."""
    row = await loader.load(row_id)
    if row is None:
        raise RuntimeError(f"{node.__name__} {row_id} is gone though a foreign key keeps it")
    return node.from_model(row)


async def _linked(loader: DataLoader[int, R | None], row_id: int | None, node: type[N]) -> N | None:
    """The row a nullable foreign key names, if any, as a `node`."""
    row = await loader.load(row_id) if row_id else None
    return node.from_model(row) if row else None


@strawberry.type(
    description="A larger purchase that costs no more than the one quoted, e.g. 20,000 "
    "credits at 20 % off instead of 16,000 to 19,999 at list price."
)
class PriceSuggestion(FromModel):
    credits: int = strawberry.field(description="Credits to buy instead.")
    amount_cents: int = strawberry.field(
        description="What they cost, in US cents: no more than `PriceQuote.amountCents`."
    )


@strawberry.type(
    description="What buying a number of credits would cost now, in US cents. Nothing is "
    "bought or reserved; a purchase is priced again when made."
)
class PriceQuote(FromModel):
    credits: int = strawberry.field(description="Credits priced.")
    unit_price_cents: int = strawberry.field(description=UNIT_PRICE)
    discount_percent: int = strawberry.field(description=DISCOUNT)
    list_amount_cents: int = strawberry.field(
        description="What they cost at list price (100 cents a credit), before discount."
    )
    amount_cents: int = strawberry.field(
        description="What they cost, in US cents: `credits` times `unitPriceCents`."
    )
    promo_code: str | None = strawberry.field(
        description="The promo code applied, spelled as we know it (e.g. `twentyoffTC`); "
        "null when none was given."
    )
    suggestion: PriceSuggestion | None = strawberry.field(
        description="A larger purchase that costs no more; null when there is none."
    )


@strawberry.type(
    description="A course in the catalogue that learners can pay for with an account's "
    "credits. Active courses are visible to everyone signed in; withdrawn ones to "
    "support staff only."
)
class Course(NodeType):
    sku: str = strawberry.field(
        description="The catalogue's unique key: letters, digits, '.', '_' or '-'."
    )
    title: str = strawberry.field(description="The course's name, as learners see it.")
    price_credits: int = strawberry.field(
        description=f"What a redemption of it costs now, in {CREDITS_UNIT}. A request "
        "keeps the price it was made at."
    )
    active: bool = strawberry.field(
        description="False once support staff have withdrawn it: it can no longer be "
        "redeemed (COURSE_UNAVAILABLE)."
    )


@strawberry.type(
    description="The credits an approved redemption took from one lot; a redemption "
    "takes from several lots when the soonest-expiring one does not cover it."
)
class Draw:
    credits: int = strawberry.field(description="Credits taken from the lot.")
    row: strawberry.Private[models.Draw]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The lot they were taken from."
    )
    async def lot(self, info: Info) -> Lot:
        return await _kept(info.context.loaders.lots_by_id, self.row.lot_id, Lot)


@strawberry.type(
    description="A learner's request, made at checkout with an account's redemption "
    "code, to pay for a course with that account's credits, and what became of it. "
    "Visible to the learner, the account's owners and support staff."
)
class Redemption(NodeType):
    status: RedemptionStatus = strawberry.field(description="Where the request stands.")
    credits: int = strawberry.field(
        description="The course's price in credits when it was requested; fixed then, "
        "whatever the catalogue says later."
    )
    requested_at: datetime = strawberry.field(description="When the learner asked.")
    decided_at: datetime | None = strawberry.field(
        description="When it was approved, denied or cancelled (the same instant as "
        "`requestedAt` when approved at once); null while PENDING."
    )
    reason: str | None = strawberry.field(
        description="Why it was denied (if the owner said) or reversed; null otherwise."
    )
    row: strawberry.Private[models.Redemption]

    # Not `async`: a list joins its course and learner (ledger.reads.REDEMPTION_JOINS),
    # and answering those without a coroutine each saves graphql-core two tasks per row.
    # A row loaded alone answers an awaitable instead, which graphql-core awaits.
    @strawberry.field(  # type: ignore[untyped-decorator]
        graphql_type=Course, description="The course it pays for."
    )
    def course(self, info: Info) -> Course | Awaitable[Course]:
        course = _joined(self.row, "course", models.Course)
        if course is not None:
            return Course.from_model(course)
        return _kept(info.context.loaders.courses_by_id, self.row.course_id, Course)

    @strawberry.field(  # type: ignore[untyped-decorator]
        graphql_type=User, description="The learner who asked."
    )
    def learner(self, info: Info) -> User | Awaitable[User]:
        user = _joined(self.row, "learner", models.User)
        if user is not None:
            return User.from_model(user)
        return _kept(info.context.loaders.users_by_id, self.row.learner_id, User)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Who approved or denied it (an owner or support staff), or the "
        "learner who cancelled it; null while PENDING and when approved automatically."
    )
    async def decided_by(self, info: Info) -> User | None:
        return await _linked(info.context.loaders.users_by_id, self.row.decided_by_id, User)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Which lots paid for it, for the account's owners and support staff. "
        "Null for anyone else (the learner who asked included): they may not see the "
        "account's lots. An empty list means nothing has been drawn (yet)."
    )
    async def draws(self, info: Info) -> list[Draw] | None:
        actor = await info.context.actor()
        owned_account = info.context.loaders.owned_account_by_user.load
        if not await access.may_see_draws(actor, self.row.account_id, owned_account=owned_account):
            return None
        rows = await info.context.loaders.draws_by_redemption.load(self.row.id)
        return [Draw(credits=d.credits, row=d) for d in rows]


@strawberry.type(
    description="One entry of an account's ledger: every change of credits on a lot (and "
    "every extension of a lot's expiry) is one, never edited or deleted. Visible to the "
    "account's owners and support staff."
)
class Transaction(NodeType):
    kind: TransactionKind = strawberry.field(description="What caused it.")
    credits: int = strawberry.field(
        description="The signed change, in whole credits: positive adds to the lot, "
        "negative takes from it; 0 for EXTENSION."
    )
    balance_after: int = strawberry.field(
        description="The account's available balance (credits on unexpired lots) right "
        "after this entry; never negative."
    )
    reason: str | None = strawberry.field(
        description="Why: support staff's reason for an ADJUSTMENT, EXTENSION or "
        "REVERSAL; for an EXPIRY, `expired` (or `reversed after the lot expired`); null "
        "for a PURCHASE or REDEMPTION."
    )
    reference: str | None = strawberry.field(
        description="For a PURCHASE, the payment's reference: the card payment's id at "
        "the gateway, or the invoice number; null otherwise."
    )
    expires_at: datetime | None = strawberry.field(
        description="For an EXTENSION, the lot's new expiry; null for other kinds."
    )
    created_at: datetime = strawberry.field(description="When it was recorded.")
    row: strawberry.Private[models.LedgerEntry]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The lot whose credits (or expiry) it changed."
    )
    async def lot(self, info: Info) -> Lot | None:
        return await _linked(info.context.loaders.lots_by_id, self.row.lot_id, Lot)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="For a PURCHASE, the purchase paid; null otherwise."
    )
    async def purchase(self, info: Info) -> Purchase | None:
        return await _linked(info.context.loaders.purchases_by_id, self.row.purchase_id, Purchase)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="For a REDEMPTION or REVERSAL (and the EXPIRY that may follow a "
        "reversal), the redemption; null otherwise."
    )
    async def redemption(self, info: Info) -> Redemption | None:
        redemption_id = self.row.redemption_id
        return await _linked(info.context.loaders.redemptions_by_id, redemption_id, Redemption)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The person whose action caused it (the buyer, the learner or owner "
        "whose request or approval drew credits, support staff); null for the nightly "
        "expiry."
    )
    async def actor(self, info: Info) -> User | None:
        return await _linked(info.context.loaders.users_by_id, self.row.actor_id, User)


@strawberry.type(description="The signed-in caller.")
class Viewer:
    user: User = strawberry.field(description="The caller, as the token names them.")
    is_support: bool = strawberry.field(
        description="Whether the caller's token carries the `support` role, which opens "
        "every account and the back office."
    )
    account_row: strawberry.Private[models.Account | None]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The account the caller owns (a user owns at most one); null when "
        "they own none, as for most learners and support staff."
    )
    def account(self) -> Account | None:
        return Account.from_model(self.account_row) if self.account_row else None


@strawberry.type(
    description="An owner's request to buy credits by invoice, priced when asked. Support "
    "staff fulfil it once the invoice is paid, which adds the credits. Visible to the "
    "account's owners and support staff."
)
class QuoteRequest(NodeType):
    credits: int = strawberry.field(description="Credits asked for (1 to 10,000,000).")
    unit_price_cents: int = strawberry.field(description=UNIT_PRICE + " Fixed when requested.")
    discount_percent: int = strawberry.field(description=DISCOUNT)
    amount_cents: int = strawberry.field(
        description="The invoice total, in US cents: `credits` times `unitPriceCents`."
    )
    message: str = strawberry.field(description="The owner's note to support; may be empty.")
    status: QuoteStatus = strawberry.field(description="Where the request stands.")
    invoice_number: str | None = strawberry.field(
        description="The paid invoice's number, given by support staff; null until FULFILLED."
    )
    cancel_reason: str | None = strawberry.field(
        description="Why it was cancelled; null unless CANCELLED."
    )
    created_at: datetime = strawberry.field(description="When it was requested.")
    row: strawberry.Private[models.QuoteRequest]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The account that asked."
    )
    async def account(self, info: Info) -> Account:
        return await _kept(info.context.loaders.accounts_by_id, self.row.account_id, Account)

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The PAID purchase made when the invoice was paid; null until FULFILLED."
    )
    async def purchase(self, info: Info) -> Purchase | None:
        return await _linked(info.context.loaders.purchases_by_id, self.row.purchase_id, Purchase)


@strawberry.type(
    description="A change someone made to an account's settings, owners, code, quotes, "
    "lots or credits, kept for the record. Visible to the account's owners and support "
    "staff."
)
class AuditEvent(NodeType):
    action: str = strawberry.field(
        description="What happened: `account.created`, `account.updated`, `owner.added`, "
        "`owner.removed`, `owner.invitation_accepted`, `code.rotated`, "
        "`quote.requested`, `quote.fulfilled`, `quote.cancelled`, `lot.extended`, "
        "`redemption.reversed` or `credits.adjusted`; more may be added."
    )
    details: JSON = strawberry.field(
        description="What changed, as a JSON object whose keys depend on `action` (e.g. "
        "`email` for owner changes, `credits` for adjustments)."
    )
    reason: str | None = strawberry.field(
        description="The reason given, for changes that take one; null otherwise."
    )
    created_at: datetime = strawberry.field(description="When it happened.")
    row: strawberry.Private[models.AuditEvent]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Who made the change; null if no longer known."
    )
    async def actor(self, info: Info) -> User | None:
        return await _linked(info.context.loaders.users_by_id, self.row.actor_id, User)


MONTH = "The calendar month, as `YYYY-MM` (UTC)."


@strawberry.type(
    description="An account's credits in and out during one calendar month of a report, "
    "in whole credits. The first and last months count only the report's days."
)
class UsageMonth:
    month: str = strawberry.field(description=MONTH)
    purchased: int = strawberry.field(description="Credits added by paid purchases.")
    redeemed: int = strawberry.field(description="Credits drawn by approved redemptions.")
    expired: int = strawberry.field(description="Credits written off as expired.")
    reversed: int = strawberry.field(
        description="Credits returned by reversed redemptions (those whose lot had expired "
        "are also counted in `expired`)."
    )
    adjusted: int = strawberry.field(
        description="Net credits added (positive) or taken (negative) by support staff."
    )
    balance: int = strawberry.field(
        description="The account's ledger balance at the end of the month (of `to`, for "
        "the last month): the sum of all its transactions until then."
    )


@strawberry.type  # a base only: the counts a report's top learners and courses share
class Approved:
    credits: int = strawberry.field(description="Credits of those redemptions.")
    redemptions: int = strawberry.field(description="How many redemptions.")


@strawberry.type(
    description="One learner's redemptions approved in the report's period (and not "
    "reversed since)."
)
class LearnerUsage(Approved):
    learner_id: strawberry.Private[int]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The learner."
    )
    async def learner(self, info: Info) -> User:
        return await _kept(info.context.loaders.users_by_id, self.learner_id, User)


@strawberry.type(
    description="One course's redemptions approved in the report's period (and not reversed since)."
)
class CourseUsage(Approved):
    course_id: strawberry.Private[int]

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="The course."
    )
    async def course(self, info: Info) -> Course:
        return await _kept(info.context.loaders.courses_by_id, self.course_id, Course)


@strawberry.type(description="Credits due to expire in one calendar month.")
class ExpiringMonth:
    month: str = strawberry.field(description=MONTH)
    credits: int = strawberry.field(
        description="Credits still available on lots that expire that month."
    )


@strawberry.type(
    description="An account's usage over a period of whole UTC days: credits in and out "
    "per month, the learners and courses that used most, and what will expire when."
)
class UsageReport:
    start: date = strawberry.field(
        name="from", description="The period's first day (UTC), included."
    )
    end: date = strawberry.field(name="to", description="The period's last day (UTC), included.")
    months: list[UsageMonth] = strawberry.field(
        description="Every calendar month the period touches, oldest first, even empty ones."
    )
    top_learners: list[LearnerUsage] = strawberry.field(
        description="Up to 10 learners by credits approved in the period, most first."
    )
    top_courses: list[CourseUsage] = strawberry.field(
        description="Up to 10 courses by credits approved in the period, most first."
    )
    expiring_by_month: list[ExpiringMonth] = strawberry.field(
        description="Credits available now, by the month their lot expires, soonest "
        "first; not limited to the period."
    )


@strawberry.type(description="A short-lived link to download an export file.")
class ExportLink:
    url: str = strawberry.field(
        description="Download it with a plain GET, no Authorization header needed, until "
        "`expiresAt`; access is checked again when it is used. Rows are oldest first."
    )
    expires_at: datetime = strawberry.field(
        description="When the link stops working, 10 minutes after it was made."
    )
