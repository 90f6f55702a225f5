"""The nightly expiry job and the expiry reminders.

Expiry turns what remains of every lot at or past its `expires_at` into an EXPIRY
entry. It walks due lots in keyset batches over the partial index on `(expires_at, id)`
of lots with credits left, so its cost follows the number of due lots, not of all lots.
Each batch locks its accounts (in id order) and then its lots, the same order as every
other writer, so it runs safely beside redemptions. Running it twice changes nothing
the second time: an expired lot has nothing left.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Sum

from ledger import clock, events
from ledger.db import atomic, is_postgres
from models import (
    Account,
    EntryKind,
    LedgerEntry,
    Lot,
    OutboxMessage,
    ReminderSent,
)

BATCH_SIZE = 1000
THRESHOLDS_DAYS = (7, 30, 90)  # nearest first


@dataclass
class ExpiryResult:
    lots: int = 0
    credits: int = 0
    messages: int = 0  # one per account per batch


@dataclass(frozen=True)
class _Due:
    id: int
    account_id: int
    expires_at: datetime


_DUE_SQL = """
    SELECT id, account_id, expires_at FROM lot
    WHERE remaining > 0 AND expires_at <= $1 AND (expires_at, id) > ($2, $3)
    ORDER BY expires_at, id LIMIT $4
"""


async def _due_batch(now: datetime, after: tuple[datetime, int], size: int) -> list[_Due]:
    if is_postgres():
        # Literal `remaining > 0` so PostgreSQL can use the partial index with any plan.
        rows = await connections.get("default").execute_query_dict(
            _DUE_SQL, [now, after[0], after[1], size]
        )
        return [_Due(r["id"], r["account_id"], r["expires_at"]) for r in rows]
    query = (
        Lot.filter(remaining__gt=0, expires_at__lte=now)
        .filter(Q(expires_at__gt=after[0]) | Q(expires_at=after[0], id__gt=after[1]))
        .order_by("expires_at", "id")
        .limit(size)
    )
    return [_Due(lot.id, lot.account_id, lot.expires_at) for lot in await query]


async def _available_by_account(account_ids: list[int], now: datetime) -> dict[int, int]:
    rows = (
        await Lot.filter(account_id__in=account_ids, expires_at__gt=now)
        .group_by("account_id")
        .annotate(total=Sum("remaining"))
        .values("account_id", "total")
    )
    return {int(r["account_id"]): int(r["total"] or 0) for r in rows}


async def _expire_batch(due: list[_Due], now: datetime) -> ExpiryResult:
    account_ids = sorted({d.account_id for d in due})
    await Account.filter(id__in=account_ids).order_by("id").select_for_update(no_key=True)
    lots = (
        await Lot.filter(id__in=[d.id for d in due], remaining__gt=0, expires_at__lte=now)
        .order_by("id")
        .select_for_update()
    )
    if not lots:
        return ExpiryResult()
    available = await _available_by_account(account_ids, now)
    await Lot.filter(id__in=[lot.id for lot in lots]).update(remaining=0)
    await LedgerEntry.bulk_create(
        [
            LedgerEntry(
                account_id=lot.account_id,
                lot_id=lot.id,
                kind=EntryKind.EXPIRY,
                credits=-lot.remaining,
                balance_after=available.get(lot.account_id, 0),
                reason="expired",
                created_at=now,
            )
            for lot in lots
        ]
    )
    entries = await LedgerEntry.filter(
        kind=EntryKind.EXPIRY, lot_id__in=[lot.id for lot in lots], created_at=now
    ).values_list("id", "account_id")
    by_account: dict[int, list[int]] = defaultdict(list)
    for entry_id, account_id in entries:
        by_account[int(account_id)].append(int(entry_id))
    await OutboxMessage.bulk_create(
        [
            OutboxMessage(
                kind=events.CREDITS_EXPIRED,
                payload={"account_id": account_id, "entry_ids": ids},
                created_at=now,
            )
            for account_id, ids in sorted(by_account.items())
        ]
    )
    return ExpiryResult(
        lots=len(lots), credits=sum(lot.remaining for lot in lots), messages=len(by_account)
    )


async def expire_due_lots(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> ExpiryResult:
    """Expire every lot due at `now` (the application's clock by default)."""
    now = now or clock.now()
    total = ExpiryResult()
    after = (datetime(1970, 1, 1, tzinfo=now.tzinfo), 0)
    while due := await _due_batch(now, after, batch_size):
        after = (due[-1].expires_at, due[-1].id)
        done = await atomic(lambda due=due: _expire_batch(due, now))  # type: ignore[misc]
        total.lots += done.lots
        total.credits += done.credits
        total.messages += done.messages
    return total


def threshold_for(expires_at: datetime, now: datetime) -> int | None:
    """The nearest reminder threshold a lot expiring at `expires_at` has crossed."""
    left = expires_at - now
    return next((t for t in THRESHOLDS_DAYS if left <= timedelta(days=t)), None)


@dataclass
class ReminderResult:
    messages: int = 0
    lots: int = 0


async def _remind_account(
    account_id: int, threshold: int, lot_ids: list[int], now: datetime
) -> None:
    await ReminderSent.bulk_create(
        [ReminderSent(lot_id=i, threshold_days=threshold, created_at=now) for i in lot_ids]
    )
    await OutboxMessage.create(
        kind=events.CREDITS_EXPIRING,
        payload={"account_id": account_id, "threshold_days": threshold, "lot_ids": lot_ids},
        created_at=now,
    )


async def send_expiry_reminders(*, now: datetime | None = None) -> ReminderResult:
    """Queue one reminder per account and threshold for lots that crossed it.

    Each lot is reminded once per threshold; a late run sends only the nearest
    threshold crossed (a lot 5 days from expiry that was never reminded gets the 7-day
    reminder only), and never one farther than a reminder already sent.
    """
    now = now or clock.now()
    horizon = now + timedelta(days=max(THRESHOLDS_DAYS))
    lots = await Lot.filter(remaining__gt=0, expires_at__gt=now, expires_at__lte=horizon)
    sent: dict[int, list[int]] = defaultdict(list)
    for lot_id, threshold in await ReminderSent.filter(
        lot_id__in=[lot.id for lot in lots]
    ).values_list("lot_id", "threshold_days"):
        sent[int(lot_id)].append(int(threshold))
    pending: dict[tuple[int, int], list[int]] = defaultdict(list)
    for lot in lots:
        threshold = threshold_for(lot.expires_at, now)
        if threshold is None or any(t <= threshold for t in sent[lot.id]):
            continue
        pending[(lot.account_id, threshold)].append(lot.id)
    result = ReminderResult()
    for (account_id, threshold), lot_ids in sorted(pending.items()):
        try:
            await atomic(
                lambda a=account_id, t=threshold, ids=lot_ids: _remind_account(a, t, ids, now)  # type: ignore[misc]
            )
        except IntegrityError:
            continue  # a concurrent run queued this reminder
        result.messages += 1
        result.lots += len(lot_ids)
    return result
