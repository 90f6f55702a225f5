"""The nightly expiry job and the expiry reminders.

Expiry turns what remains of every lot at or past its `expires_at` into an EXPIRY
entry. Its cost follows the due lots, not all lots ever sold:

- the accounts with due lots come from the partial index of lots with credits left
  (`lot_due_for_expiry`, migration 0004);
- accounts are handled a batch at a time, in id order, each with all its due lots: lock
  the accounts, then their due lots by id, the same order as every other writer, so the
  job runs safely beside redemptions;
- each account's balance after expiry comes from its last ledger entry rather than from
  summing all its lots: every change of credits writes an entry with the balance it
  left, and the accounts are locked, so the balance now is that figure less the due lots
  that were still live when it was written;
- each account gets one `credits_expired` message per run, naming all its expiries.

Running it twice changes nothing the second time: an expired lot has nothing left.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError

from ledger import clock, entries, outbox
from ledger.db import atomic, is_postgres
from ledger.events import CreditsExpired, CreditsExpiring, OutboxKind
from ledger.sql import any_of, fetch, parse_datetime
from models import (
    Account,
    Lot,
    OutboxMessage,
    ReminderSent,
)

BATCH_SIZE = 200  # accounts per transaction
THRESHOLDS_DAYS = (7, 30, 90)  # nearest first


@dataclass
class ExpiryResult:
    lots: int = 0
    credits: int = 0
    messages: int = 0  # one per account with due lots


@dataclass(frozen=True)
class _Due:
    id: int
    account_id: int
    remaining: int
    expires_at: datetime


async def _due_lots_by_account(now: datetime) -> dict[int, list[int]]:
    """The ids of the due lots, by account: one pass over the partial index."""
    # Literal `remaining > 0` so PostgreSQL can use the partial index with any plan.
    rows = await fetch(
        "SELECT account_id, id FROM lot WHERE remaining > 0 AND expires_at <= %s", now
    )
    lots: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        lots[int(row["account_id"])].append(int(row["id"]))
    return lots


async def _lock_due_lots(account_ids: list[int], lot_ids: list[int], now: datetime) -> list[_Due]:
    """Lock the accounts (id order), then those of their lots still due (id order).

    No lot can become due with credits left after `now`'s snapshot: credits only return
    to unexpired lots and expiry only moves later, so `lot_ids` names every candidate.
    """
    await Account.filter(id__in=account_ids).order_by("id").select_for_update(no_key=True)
    lots, values = any_of("id", lot_ids)
    # By primary key only, then filtered here: with the due-lot conditions in the SQL,
    # PostgreSQL may walk the whole due-lot index once per batch instead.
    rows = await fetch(
        f"SELECT id, account_id, remaining, expires_at FROM lot WHERE {lots} ORDER BY id"
        + (" FOR UPDATE" if is_postgres() else ""),
        *values,
    )
    locked = [
        _Due(r["id"], r["account_id"], r["remaining"], parse_datetime(r["expires_at"]))
        for r in rows
    ]
    return [lot for lot in locked if lot.remaining > 0 and lot.expires_at <= now]


_LAST_ENTRY_SQL = """
    SELECT a.id AS account_id,
           (SELECT e.balance_after FROM ledger_entry e WHERE e.account_id = a.id
             ORDER BY e.id DESC LIMIT 1) AS balance_after,
           (SELECT e.created_at FROM ledger_entry e WHERE e.account_id = a.id
             ORDER BY e.id DESC LIMIT 1) AS created_at
    FROM account a WHERE {accounts}
"""


async def _summed_balances(account_ids: list[int], now: datetime) -> dict[int, int]:
    """Σ remaining of the accounts' unexpired lots: the slow way, always right."""
    accounts, values = any_of("account_id", account_ids)
    rows = await fetch(
        f"SELECT account_id, SUM(remaining) AS total FROM lot WHERE {accounts}"
        " AND remaining > 0 AND expires_at > %s GROUP BY account_id",
        *values,
        now,
    )
    return {int(r["account_id"]): int(r["total"] or 0) for r in rows}


async def _balances_after_expiry(
    due: list[_Due], account_ids: list[int], now: datetime
) -> dict[int, int]:
    """Each locked account's available balance at `now`, once its due lots are gone.

    The last entry's `balance_after` counted every lot live when it was written; since
    then no entry, so no lot's `remaining` or `expires_at` changed. What expired in
    between is exactly the due lots that were still live then. An account whose last
    entry is later than `now` (a job run with an earlier clock), or whose figure does
    not add up, is summed instead.
    """
    accounts, values = any_of("a.id", account_ids)
    last = {
        int(r["account_id"]): (r["balance_after"], r["created_at"])
        for r in await fetch(_LAST_ENTRY_SQL.format(accounts=accounts), *values)
    }
    lots_of: dict[int, list[_Due]] = defaultdict(list)
    for lot in due:
        lots_of[lot.account_id].append(lot)
    balances: dict[int, int] = {}
    for account_id in account_ids:
        balance_after, written = last.get(account_id, (None, None))
        if balance_after is None or parse_datetime(written) > now:
            continue
        written_at = parse_datetime(written)
        live_then = sum(lot.remaining for lot in lots_of[account_id] if lot.expires_at > written_at)
        if (balance := int(balance_after) - live_then) >= 0:
            balances[account_id] = balance
    if missing := [a for a in account_ids if a not in balances]:
        summed = await _summed_balances(missing, now)
        balances.update({a: summed.get(a, 0) for a in missing})
    return balances


async def _expire_accounts(
    account_ids: list[int], lot_ids: list[int], now: datetime
) -> ExpiryResult:
    due = await _lock_due_lots(account_ids, lot_ids, now)
    if not due:
        return ExpiryResult()
    touched = sorted({lot.account_id for lot in due})
    balances = await _balances_after_expiry(due, touched, now)
    await Lot.filter(id__in=[lot.id for lot in due]).update(remaining=0)
    by_account: dict[int, list[int]] = defaultdict(list)
    expiries = [(lot.account_id, lot.id, -lot.remaining, balances[lot.account_id]) for lot in due]
    for entry_id, account_id in sorted(await entries.write_expiries(expiries, now)):
        by_account[account_id].append(entry_id)
    await OutboxMessage.bulk_create(
        [
            outbox.new_message(
                OutboxKind.CREDITS_EXPIRED,
                CreditsExpired(account_id=account_id, entry_ids=ids),
                now,
            )
            for account_id, ids in sorted(by_account.items())
        ]
    )
    return ExpiryResult(
        lots=len(due), credits=sum(lot.remaining for lot in due), messages=len(by_account)
    )


async def expire_due_lots(
    *, now: datetime | None = None, batch_size: int = BATCH_SIZE
) -> ExpiryResult:
    """Expire every lot due at `now` (the application's clock by default).

    `batch_size` is the number of accounts per transaction.
    """
    now = now or clock.now()
    total = ExpiryResult()
    due = await _due_lots_by_account(now)
    accounts = sorted(due)
    for start in range(0, len(accounts), batch_size):
        batch = accounts[start : start + batch_size]
        lot_ids = [lot_id for account_id in batch for lot_id in due[account_id]]
        done = await atomic(lambda b=batch, ids=lot_ids: _expire_accounts(b, ids, now))  # type: ignore[misc]
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
    payload = CreditsExpiring(account_id=account_id, threshold_days=threshold, lot_ids=lot_ids)
    await outbox.new_message(OutboxKind.CREDITS_EXPIRING, payload, now).save()


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
