"""Balances and lots as the clock sees them: a lot is spent-able only before `expires_at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.functions import Sum

from ledger import access, clock
from ledger.actors import Actor
from ledger.sql import fetch
from models import Lot, LotStatus

EXPIRING_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    expiring_within_90_days: int
    next_expiry: datetime | None


def lot_status(lot: Lot, now: datetime) -> LotStatus:
    return status_of(lot.expires_at, lot.remaining, now)


def status_of(expires_at: datetime, remaining: int, now: datetime) -> LotStatus:
    """Where a lot that expires at `expires_at` with `remaining` credits stands at `now`."""
    if expires_at <= now:
        return LotStatus.EXPIRED
    if remaining == 0:
        return LotStatus.DEPLETED
    return LotStatus.ACTIVE


async def available_credits(account_id: int, now: datetime | None = None) -> int:
    """Σ remaining of the account's unexpired lots."""
    now = now or clock.now()
    rows = await (
        Lot.filter(account_id=account_id, expires_at__gt=now)
        .annotate(total=Sum("remaining"))
        .values("total")
    )
    return int(rows[0]["total"] or 0) if rows else 0


_BALANCE_SQL = """
    SELECT COALESCE(SUM(remaining), 0) AS available,
           COALESCE(SUM(CASE WHEN expires_at <= %s THEN remaining ELSE 0 END), 0) AS soon,
           MIN(expires_at) AS soonest,
           (SELECT COALESCE(SUM(credits), 0) FROM redemption
             WHERE account_id = %s AND status = 'PENDING') AS pending
    FROM lot WHERE account_id = %s AND expires_at > %s AND remaining > 0
"""


async def balance_of(account_id: int) -> Balance:
    """All four figures in one statement (this is the API's hottest read)."""
    now = clock.now()
    row = (await fetch(_BALANCE_SQL, now + EXPIRING_WINDOW, account_id, account_id, now))[0]
    soonest = row["soonest"]
    if isinstance(soonest, str):  # SQLite returns aggregates of datetimes as text
        soonest = datetime.fromisoformat(soonest)
    return Balance(
        available=int(row["available"]),
        pending=int(row["pending"]),
        expiring_within_90_days=int(row["soon"]),
        next_expiry=soonest,
    )


async def balance(*, actor: Actor, account_id: int | None) -> Balance:
    account = await access.account_for(actor, account_id)
    return await balance_of(account.id)
