"""Reading an account: its lots and its ledger, newest first."""

from __future__ import annotations

from datetime import date

from ledger import access, clock
from ledger.actors import Actor
from ledger.pages import Page, PageRequest, check_days, newest_first, within_days
from models import EntryKind, LedgerEntry, Lot, LotStatus


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
    *,
    actor: Actor,
    account_id: int | None,
    kind: EntryKind | None = None,
    start: date | None = None,
    end: date | None = None,
    page: PageRequest,
) -> Page[LedgerEntry]:
    """The account's ledger, newest first, of one kind and between two days if asked."""
    check_days(start, end)
    account = await access.account_for(actor, account_id)
    query = LedgerEntry.filter(account_id=account.id)
    if kind is not None:
        query = query.filter(kind=kind)
    return await newest_first(within_days(query, "created_at", start, end), page=page)
