"""Taking credits out of an account's lots: soonest expiry first, then oldest, then id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import F

from ledger.errors import InsufficientCredits
from models import Lot


class LotChanged(RuntimeError):
    """A lot changed under a held account lock: a bug in the lock order, never expected."""


@dataclass(frozen=True)
class LotDraw:
    lot: Lot
    credits: int
    balance_after: int


async def draw_from_lots(*, account_id: int, credits: int, now: datetime) -> list[LotDraw]:
    """Remove `credits` from the unexpired lots. The caller holds the account lock.

    Lots are locked in draw order; each is decremented with a conditional UPDATE, so no
    interleaving can overdraw one. Raises InsufficientCredits and changes nothing if the
    balance does not cover it.
    """
    lots = (
        await Lot.filter(account_id=account_id, expires_at__gt=now, remaining__gt=0)
        .order_by("expires_at", "purchased_at", "id")
        .select_for_update()
    )
    balance = sum(lot.remaining for lot in lots)
    if balance < credits:
        raise InsufficientCredits(
            f"the account has {balance:,} credits available; this needs {credits:,}"
        )
    draws: list[LotDraw] = []
    needed = credits
    for lot in lots:
        take = min(lot.remaining, needed)
        changed = await Lot.filter(id=lot.id, remaining__gte=take, expires_at__gt=now).update(
            remaining=F("remaining") - take
        )
        if changed != 1:
            raise LotChanged(f"lot {lot.id} changed while the account was locked")
        balance -= take
        needed -= take
        draws.append(LotDraw(lot=lot, credits=take, balance_after=balance))
        if needed == 0:
            break
    return draws
