"""Reading an account: its lots and its ledger, newest first."""

from __future__ import annotations

from datetime import date

from ledger import access, clock, reads
from ledger.actors import Actor
from ledger.pages import Page, PageRequest, check_days
from ledger.reads import Row, Where, model_pages
from models import EntryKind, LedgerEntry, Lot, LotStatus


async def lot_rows(
    *,
    actor: Actor,
    account_id: int | None,
    status: LotStatus | None,
    page: PageRequest,
    count: bool = True,
) -> Page[Row]:
    """The account's lots, newest first, in one state now if asked."""
    account = await access.account_for(actor, account_id)
    now = clock.now()
    where = Where(["t.account_id = %s"], [account.id])
    if status is LotStatus.EXPIRED:
        where.add("t.expires_at <= %s", now)
    elif status is LotStatus.DEPLETED:
        where.add("t.expires_at > %s AND t.remaining = 0", now)
    elif status is LotStatus.ACTIVE:
        where.add("t.expires_at > %s AND t.remaining > 0", now)
    return await reads.page_of(Lot, where, page, count=count)


list_lots = model_pages(Lot, lot_rows)


async def transaction_rows(
    *,
    actor: Actor,
    account_id: int | None,
    kind: EntryKind | None = None,
    start: date | None = None,
    end: date | None = None,
    page: PageRequest,
    count: bool = True,
) -> Page[Row]:
    """The account's ledger, newest first, of one kind and between two days if asked."""
    check_days(start, end)
    account = await access.account_for(actor, account_id)
    where = Where(["t.account_id = %s"], [account.id])
    if kind is not None:
        where.add("t.kind = %s", kind.value)
    where.within_days("created_at", start, end)
    return await reads.page_of(LedgerEntry, where, page, count=count)


list_transactions = model_pages(LedgerEntry, transaction_rows)
