"""Balances and lots as the clock sees them: a lot is spent-able only before `expires_at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.functions import Min, Sum

from ledger import clock
from ledger.accounts import account_for
from ledger.actors import Actor
from models import Lot, LotStatus, Redemption, RedemptionStatus

EXPIRING_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    expiring_within_90_days: int
    next_expiry: datetime | None


def lot_status(lot: Lot, now: datetime) -> LotStatus:
    if lot.expires_at <= now:
        return LotStatus.EXPIRED
    if lot.remaining == 0:
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


async def balance_of(account_id: int) -> Balance:
    now = clock.now()
    live = Lot.filter(account_id=account_id, expires_at__gt=now, remaining__gt=0)
    totals = await live.annotate(total=Sum("remaining"), soonest=Min("expires_at")).values(
        "total", "soonest"
    )
    soon = await (
        live.filter(expires_at__lte=now + EXPIRING_WINDOW)
        .annotate(total=Sum("remaining"))
        .values("total")
    )
    pending = await (
        Redemption.filter(account_id=account_id, status=RedemptionStatus.PENDING)
        .annotate(total=Sum("credits"))
        .values("total")
    )
    soonest = totals[0]["soonest"] if totals else None
    if isinstance(soonest, str):  # SQLite returns aggregates of datetimes as text
        soonest = datetime.fromisoformat(soonest)
    return Balance(
        available=int(totals[0]["total"] or 0) if totals else 0,
        pending=int(pending[0]["total"] or 0) if pending else 0,
        expiring_within_90_days=int(soon[0]["total"] or 0) if soon else 0,
        next_expiry=soonest,
    )


async def balance(*, actor: Actor, account_id: int | None) -> Balance:
    account = await account_for(actor, account_id)
    return await balance_of(account.id)
