"""DESIGN.md's ledger invariants, checked against the database after a test."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from ledger import clock
from models import Account, EntryKind, LedgerEntry, Lot


async def assert_ledger_invariants(now: datetime | None = None) -> None:
    now = now or clock.now()
    entries = await LedgerEntry.all()
    per_lot: dict[int, int] = defaultdict(int)
    purchase_credit: dict[int, int] = {}
    for entry in entries:
        if entry.lot_id is not None:
            per_lot[entry.lot_id] += entry.credits
            if entry.kind in (EntryKind.PURCHASE,) or (
                entry.kind is EntryKind.ADJUSTMENT
                and entry.credits > 0
                and entry.lot_id not in purchase_credit
            ):
                purchase_credit.setdefault(entry.lot_id, entry.credits)
    lots = await Lot.all()
    for lot in lots:
        assert 0 <= lot.remaining <= lot.credits, f"lot {lot.id} remaining out of range"
        assert per_lot[lot.id] == lot.remaining, (
            f"lot {lot.id}: entries sum to {per_lot[lot.id]}, remaining is {lot.remaining}"
        )
        assert purchase_credit.get(lot.id) == lot.credits, f"lot {lot.id}: opening entry"
    for account in await Account.all():
        live = [lot for lot in lots if lot.account_id == account.id and lot.expires_at > now]
        balance = sum(lot.remaining for lot in live)
        assert balance >= 0
        assert balance == sum(per_lot[lot.id] for lot in live)
