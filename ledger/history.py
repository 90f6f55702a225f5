"""Reading an account: its lots and its ledger, newest first."""

from __future__ import annotations

from ledger import access, clock
from ledger.actors import Actor
from ledger.pages import Page, PageRequest, newest_first
from models import LedgerEntry, Lot, LotStatus


async def list_lots(
    *,
    actor: Actor,
    account_id: int | None,
    status: LotStatus | None,
    page: PageRequest,
) -> Page[Lot]:
    account = await access.account_for(actor, account_id)
    now = clock.now()
    query = Lot.filter(account_id=account.id)
    if status is LotStatus.EXPIRED:
        query = query.filter(expires_at__lte=now)
    elif status is LotStatus.DEPLETED:
        query = query.filter(expires_at__gt=now, remaining=0)
    elif status is LotStatus.ACTIVE:
        query = query.filter(expires_at__gt=now, remaining__gt=0)
    return await newest_first(query, page=page)


async def list_transactions(
    *, actor: Actor, account_id: int | None, page: PageRequest
) -> Page[LedgerEntry]:
    account = await access.account_for(actor, account_id)
    return await newest_first(LedgerEntry.filter(account_id=account.id), page=page)
