"""What the compiled path can answer: for each covered object type, how each field is
found from a row (a mapping keyed by column name, as `ledger.reads` answers them).

A field is a column (`Column`), a value computed from the row (`Computed`), an object
whose columns the row holds under a prefix (`Embedded`), or objects loaded for every
row of a level at once (`Linked`; `within`: a row the parent row holds). Values are
formatted by the functions the reference executor uses: `graph.ids.to_global_id`, the
enums' GraphQL names, ISO 8601 for instants; access decisions are `ledger.access`'s. A
type or field missing here is not covered: a document that asks for it goes to the
reference executor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from ledger import access, accounts, balances, reads
from ledger.actors import Actor
from ledger.balances import balance_of
from ledger.errors import ErrorCode
from ledger.reads import Row
from models import Account, Draw, Lot, Redemption, User
from models.enums import ApprovalMode, EntryKind, LotStatus, RedemptionStatus


class Fallback(Exception):
    """This request is the reference executor's: an error to report, or a value the
    compiled path does not answer the way the reference would."""


@dataclass
class Env:
    """One request's state: the caller and the instant the request is answered at."""

    actor: Actor
    now: datetime
    client_address: str = ""  # the caller's, for the rules that count wrong codes by it
    _owned: dict[int, int | None] = field(default_factory=dict)

    async def owned_account(self, user_id: int) -> int | None:
        """`access.owned_account_id`, asked once per user per request."""
        if user_id not in self._owned:
            self._owned[user_id] = await access.owned_account_id(user_id)
        return self._owned[user_id]


# `Column.format` for instants: the reference's DateTime scalar (ISO 8601, its offset).
ISO = "isoformat"


@dataclass(frozen=True)
class Column:
    """A leaf read from the row's column; `format` turns it into JSON (None: as it is;
    `ISO`: an instant's ISO 8601 text)."""

    column: str
    format: Callable[[Any], Any] | str | None = None


@dataclass(frozen=True)
class GlobalId:
    """The object's global id (`graph.ids.to_global_id`), from its `id` column."""

    type: str


@dataclass(frozen=True)
class Computed:
    """A leaf computed from the row and the request."""

    compute: Callable[[Row, Env], Any]


@dataclass(frozen=True)
class Embedded:
    """An object of type `type` whose columns the row holds as `<prefix><column>`."""

    type: str
    prefix: str


# For each row of a level, its linked row, list of rows, or None (null).
Load = Callable[[Env, Sequence[Row]], Awaitable[list[Row | list[Row] | None]]]


@dataclass(frozen=True)
class Linked:
    """Objects of type `type` loaded for all the rows of a level in one go."""

    type: str
    load: Load


def within(type_name: str, key: str) -> Linked:
    """An object of type `type_name` that is the row's `key`, a row itself (None: null);
    a level of its own, so that objects linked below it load as below any other."""

    async def nested(env: Env, rows: Sequence[Row]) -> list[Row | list[Row] | None]:
        return [row[key] for row in rows]

    return Linked(type_name, nested)


Field = Column | GlobalId | Computed | Embedded | Linked


def _names(enum: type[Enum]) -> Callable[[Any], str]:
    """An enum's GraphQL name for a stored value (a member, or its text)."""
    names = {member.value: member.name for member in enum}
    return names.__getitem__


def _int32(name: str) -> Callable[[Row, Env], int]:
    """An Int the database may hold beyond GraphQL's 32 bits (a sum): the reference
    answers an error there, so the compiled path leaves such a request to it."""

    def value(row: Row, env: Env) -> int:
        number = int(row[name])
        if not -(2**31) <= number < 2**31:
            raise Fallback(f"{name} out of Int range")
        return number

    return value


def _by(column: str, rows: dict[int, Row]) -> Callable[[Row], Row | None]:
    def find(row: Row) -> Row | None:
        key = row[column]
        return None if key is None else rows.get(key)

    return find


def _linked_by(model: type, column: str, joins: Sequence[reads.Joined] = ()) -> Load:
    """The row of `model` that each row's foreign key `column` names (None for none)."""

    async def load(env: Env, rows: Sequence[Row]) -> list[Row | list[Row] | None]:
        found = await reads.by_id(model, (r[column] for r in rows if r[column] is not None), joins)
        keep = _by(column, found)
        return [keep(row) for row in rows]

    return load


async def _owners(env: Env, rows: Sequence[Row]) -> list[Row | list[Row] | None]:
    found = await reads.owners(row["id"] for row in rows)
    return [found.get(row["id"], []) for row in rows]


async def _balances(env: Env, rows: Sequence[Row]) -> list[Row | list[Row] | None]:
    figures = [await balance_of(row["id"]) for row in rows]
    return [_balance_row(figure) for figure in figures]


def _balance_row(balance: balances.Balance) -> Row:
    return vars(balance)


async def _draws(env: Env, rows: Sequence[Row]) -> list[Row | list[Row] | None]:
    """A redemption's draws, for those who may see them (`access.may_see_draws`)."""
    visible = [
        await access.may_see_draws(env.actor, row["account_id"], owned_account=env.owned_account)
        for row in rows
    ]
    found = await reads.grouped(
        Draw, "redemption_id", (r["id"] for r, v in zip(rows, visible, strict=True) if v)
    )
    return [found.get(row["id"], []) if v else None for row, v in zip(rows, visible, strict=True)]


def _code(row: Row, env: Env) -> str:
    return accounts.display_code(reads.as_model(Account, row))


_LOT_STATUS = {status: status.name for status in LotStatus}


def _lot_status(row: Row, env: Env) -> str:
    return _LOT_STATUS[balances.status_of(row["expires_at"], row["remaining"], env.now)]


def _when(column: str) -> Column:
    return Column(column, ISO)


def _maybe_when(column: str) -> Computed:
    def value(row: Row, env: Env) -> str | None:
        found = row[column]
        return None if found is None else found.isoformat()

    return Computed(value)


TYPES: dict[str, dict[str, Field]] = {
    "User": {
        "id": GlobalId("User"),
        "email": Column("email"),
        "name": Column("name"),
    },
    "Account": {
        "id": GlobalId("Account"),
        "name": Column("name"),
        "approvalMode": Column("approval_mode", _names(ApprovalMode)),
        "autoApproveLimit": Column("auto_approve_limit"),
        "createdAt": _when("created_at"),
        "redemptionCode": Computed(_code),
        "owners": Linked("User", _owners),
        "balance": Linked("Balance", _balances),
    },
    "Balance": {
        "available": Computed(_int32("available")),
        "pending": Computed(_int32("pending")),
        "expiringWithin90Days": Computed(_int32("expiring_within_90_days")),
        "nextExpiry": _maybe_when("next_expiry"),
    },
    "Lot": {
        "id": GlobalId("Lot"),
        "credits": Column("credits"),
        "remaining": Column("remaining"),
        "purchasedAt": _when("purchased_at"),
        "expiresAt": _when("expires_at"),
        "status": Computed(_lot_status),
    },
    "Course": {
        "id": GlobalId("Course"),
        "sku": Column("sku"),
        "title": Column("title"),
        "priceCredits": Column("price_credits"),
        "active": Column("active"),
    },
    "Draw": {
        "credits": Column("credits"),
        "lot": Linked("Lot", _linked_by(Lot, "lot_id")),
    },
    "Redemption": {
        "id": GlobalId("Redemption"),
        "status": Column("status", _names(RedemptionStatus)),
        "credits": Column("credits"),
        "requestedAt": _when("requested_at"),
        "decidedAt": _maybe_when("decided_at"),
        "reason": Column("reason"),
        "course": Embedded("Course", reads.COURSE.prefix),
        "learner": Embedded("User", reads.LEARNER.prefix),
        "decidedBy": Linked("User", _linked_by(User, "decided_by_id")),
        "draws": Linked("Draw", _draws),
    },
    "Transaction": {
        "id": GlobalId("Transaction"),
        "kind": Column("kind", _names(EntryKind)),
        "credits": Column("credits"),
        "balanceAfter": Column("balance_after"),
        "reason": Column("reason"),
        "reference": Column("reference"),
        "expiresAt": _maybe_when("expires_at"),
        "createdAt": _when("created_at"),
        "lot": Linked("Lot", _linked_by(Lot, "lot_id")),
        "redemption": Linked(
            "Redemption", _linked_by(Redemption, "redemption_id", reads.REDEMPTION_JOINS)
        ),
        "actor": Linked("User", _linked_by(User, "actor_id")),
    },
    # Mutation payloads: a row holds the rule's `result` row (None when refused) and the
    # `errors` (`compiled.mutations`).
    "RedeemCreditsPayload": {
        "redemption": within("Redemption", "result"),
        "errors": within("UserError", "errors"),
    },
    "UserError": {  # rows: `LedgerError.to_dict()`
        "code": Column("code", _names(ErrorCode)),
        "message": Column("message"),
        "field": Column("field"),
    },
    "Viewer": {
        "user": within("User", "user"),
        "isSupport": Column("is_support"),
        "account": within("Account", "account"),
    },
}
