"""What goes into an export: rows of an account's ledger or redemptions, in batches.

Rows are read in keyset batches (oldest first) with their related rows loaded per batch,
so an export of any size runs in bounded memory. Signed links let a browser download an
export without a bearer header: the link names the user, the account and every filter,
expires soon, and is re-checked against the user's access when used.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import jwt
from tortoise.models import Model
from tortoise.queryset import QuerySet

from ledger import access, clock
from ledger.actors import Actor
from ledger.errors import Forbidden
from ledger.pages import check_days, within_days
from models import (
    Course,
    EntryKind,
    LedgerEntry,
    Lot,
    Purchase,
    Redemption,
    RedemptionStatus,
    User,
)
from settings import get_settings

BATCH = 2000
LINK_LIFETIME = timedelta(minutes=10)
Row = list[Any]
M = TypeVar("M", bound=Model)


class Dataset(StrEnum):
    TRANSACTIONS = "transactions"
    REDEMPTIONS = "redemptions"


class Format(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


TRANSACTION_COLUMNS = [
    "id",
    "date",
    "kind",
    "credits",
    "balance_after",
    "lot_id",
    "lot_expires_at",
    "purchase_id",
    "amount_cents",
    "redemption_id",
    "course",
    "learner",
    "actor",
    "reason",
    "reference",
    "new_expiry",
]
REDEMPTION_COLUMNS = [
    "id",
    "requested_at",
    "status",
    "credits",
    "course_sku",
    "course",
    "learner_email",
    "learner",
    "decided_at",
    "decided_by",
    "reason",
]


@dataclass(frozen=True)
class ExportRequest:
    dataset: Dataset
    format: Format
    account_id: int | None = None
    start: date | None = None
    end: date | None = None
    kind: EntryKind | None = None
    status: RedemptionStatus | None = None

    def columns(self) -> list[str]:
        if self.dataset is Dataset.TRANSACTIONS:
            return TRANSACTION_COLUMNS
        return REDEMPTION_COLUMNS

    def filename(self) -> str:
        return f"{self.dataset.value}.{self.format.value}"


async def _by_id(model: type[Model], ids: set[int]) -> dict[int, Any]:
    ids.discard(0)
    return {int(r.pk): r for r in await model.filter(id__in=list(ids))} if ids else {}


async def _batches(
    query: QuerySet[M], dated: str, request: ExportRequest
) -> AsyncIterator[list[M]]:
    """The rows of `query` dated (by the column `dated`) within the request's days, oldest
    first, a batch at a time: each batch is a keyset query after the last id seen."""
    query = within_days(query, dated, request.start, request.end)
    after = 0
    while rows := await query.filter(id__gt=after).order_by("id").limit(BATCH):
        after = int(rows[-1].pk)
        yield list(rows)


async def _transaction_batches(account_id: int, request: ExportRequest) -> AsyncIterator[list[Row]]:
    query = LedgerEntry.filter(account_id=account_id)
    if request.kind:
        query = query.filter(kind=request.kind)
    async for entries in _batches(query, "created_at", request):
        yield await _transaction_rows(entries)


async def _transaction_rows(entries: list[LedgerEntry]) -> list[Row]:
    """One row per entry, with what its lot, purchase and redemption say (a query each)."""
    lots = await _by_id(Lot, {e.lot_id or 0 for e in entries})
    purchases = await _by_id(Purchase, {e.purchase_id or 0 for e in entries})
    redemptions = await _by_id(Redemption, {e.redemption_id or 0 for e in entries})
    courses = await _by_id(Course, {r.course_id for r in redemptions.values()})
    users = await _by_id(
        User,
        {e.actor_id or 0 for e in entries} | {r.learner_id for r in redemptions.values()},
    )
    batch = []
    for e in entries:
        lot, purchase = lots.get(e.lot_id or 0), purchases.get(e.purchase_id or 0)
        redemption = redemptions.get(e.redemption_id or 0)
        course = courses.get(redemption.course_id) if redemption else None
        learner = users.get(redemption.learner_id) if redemption else None
        actor = users.get(e.actor_id or 0)
        batch.append(
            [
                e.id,
                e.created_at,
                e.kind.value,
                e.credits,
                e.balance_after,
                e.lot_id,
                lot.expires_at if lot else None,
                e.purchase_id,
                purchase.amount_cents if purchase else None,
                e.redemption_id,
                course.title if course else None,
                learner.email if learner else None,
                actor.email if actor else None,
                e.reason,
                e.reference,
                e.expires_at,
            ]
        )
    return batch


async def _redemption_batches(account_id: int, request: ExportRequest) -> AsyncIterator[list[Row]]:
    query = Redemption.filter(account_id=account_id)
    if request.status:
        query = query.filter(status=request.status)
    async for rows in _batches(query, "requested_at", request):
        courses = await _by_id(Course, {r.course_id for r in rows})
        users = await _by_id(
            User, {r.learner_id for r in rows} | {r.decided_by_id or 0 for r in rows}
        )
        batch = []
        for r in rows:
            course, learner = courses[r.course_id], users[r.learner_id]
            decider = users.get(r.decided_by_id or 0)
            batch.append(
                [
                    r.id,
                    r.requested_at,
                    r.status.value,
                    r.credits,
                    course.sku,
                    course.title,
                    learner.email,
                    learner.name,
                    r.decided_at,
                    decider.email if decider else None,
                    r.reason,
                ]
            )
        yield batch


def _check_dates(request: ExportRequest) -> None:
    check_days(request.start, request.end)


async def open_export(actor: Actor, request: ExportRequest) -> AsyncIterator[list[Row]]:
    """Check access now, then answer the rows in batches."""
    _check_dates(request)
    account = await access.account_for(actor, request.account_id)
    if request.dataset is Dataset.TRANSACTIONS:
        return _transaction_batches(account.id, request)
    return _redemption_batches(account.id, request)


LINK_AUDIENCE = "training-credits:export-link"


def _link_key() -> bytes:
    secret = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(secret, b"training-credits:export-links", hashlib.sha256).digest()


async def sign_link(actor: Actor, request: ExportRequest) -> tuple[str, datetime]:
    """A token for `/exports/<file>?token=…`, valid for a few minutes (a JWT, HS256),
    for an account the caller may read (checked again when the link is used)."""
    _check_dates(request)
    await access.account_for(actor, request.account_id)
    expires = clock.now() + LINK_LIFETIME
    claims = {
        "aud": LINK_AUDIENCE,
        "sub": str(actor.user_id),
        "support": actor.is_support,
        "exp": int(expires.timestamp()),
        "req": {k: str(v) for k, v in asdict(request).items() if v is not None},
    }
    return jwt.encode(claims, _link_key(), algorithm="HS256"), expires


def verify_link(token: str) -> tuple[int, bool, ExportRequest]:
    """(user id, is support, request) of a valid token; Forbidden otherwise."""
    try:
        # Expiry is checked against the application's clock below, not the system's.
        data = jwt.decode(
            token,
            _link_key(),
            algorithms=["HS256"],
            audience=LINK_AUDIENCE,
            options={"verify_exp": False, "require": ["exp", "sub", "req"]},
        )
        fields: dict[str, str] = data["req"]
        request = ExportRequest(
            dataset=Dataset(fields["dataset"]),
            format=Format(fields["format"]),
            account_id=int(fields["account_id"]) if "account_id" in fields else None,
            start=date.fromisoformat(fields["start"]) if "start" in fields else None,
            end=date.fromisoformat(fields["end"]) if "end" in fields else None,
            kind=EntryKind(fields["kind"]) if "kind" in fields else None,
            status=RedemptionStatus(fields["status"]) if "status" in fields else None,
        )
        user_id = int(data["sub"])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
        raise Forbidden("this download link is not valid") from exc
    if int(data["exp"]) < clock.now().timestamp():
        raise Forbidden("this download link has expired; ask for a new one")
    return user_id, data.get("support") is True, request


# What makes a spreadsheet read a cell as a formula (OWASP "CSV injection"), and the
# full-width forms some locales' spreadsheets treat the same way.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def inert(value: str) -> str:
    """Text a spreadsheet shows and never runs: a leading formula character gets a quote.

    Only text is quoted: numbers (a debit of -150 credits) stay numbers.
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def cell(value: Any) -> Any:
    """A value as a spreadsheet cell: UTC datetimes without their zone (Excel has none)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, str):
        return inert(value)
    return value


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str):
        return inert(value)
    return str(value)


def header(columns: Sequence[str]) -> Row:
    return list(columns)
