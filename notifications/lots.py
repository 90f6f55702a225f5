"""Emails about lots: extensions, expiry reminders and expiries."""

from __future__ import annotations

from ledger import clock
from ledger.events import OutboxKind
from ledger.purchases import LOT_LIFETIME_YEARS
from models import Account, EntryKind, LedgerEntry, Lot, OutboxMessage, User
from notifications import links
from notifications.emails import Email
from notifications.recipients import to_owners
from settings import Settings


async def _previous_extension(lot: Lot, entry: LedgerEntry) -> LedgerEntry | None:
    """The extension before this one, if any: its `expires_at` was the old date."""
    return (
        await LedgerEntry.filter(lot_id=lot.id, kind=EntryKind.EXTENSION, id__lt=entry.id)
        .order_by("-id")
        .first()
    )


async def lot_extended(message: OutboxMessage, settings: Settings) -> list[Email]:
    lot = await Lot.get(id=message.payload["lot_id"])
    entry = await LedgerEntry.get(id=message.payload["entry_id"], lot_id=lot.id)
    earlier = await _previous_extension(lot, entry)
    if earlier is not None and earlier.expires_at is not None:
        previous = earlier.expires_at
    else:
        previous = clock.add_years(lot.purchased_at, LOT_LIFETIME_YEARS)
    actor = await User.get_or_none(id=entry.actor_id) if entry.actor_id else None
    account = await Account.get(id=lot.account_id)
    return await to_owners(
        lot.account_id,
        "lot_extended",
        kind=OutboxKind.LOT_EXTENDED,
        settings=settings,
        account=account,
        lot=lot,
        previous_expiry=previous,
        new_expiry=entry.expires_at or lot.expires_at,
        reason=entry.reason,
        actor=actor,
        lots_url=links.lots(settings),
    )


async def credits_expiring(message: OutboxMessage, settings: Settings) -> list[Email]:
    account = await Account.get(id=message.payload["account_id"])
    # As they are when the email goes out: a lot spent or expired since is left out.
    lots = (
        await Lot.filter(
            id__in=[int(i) for i in message.payload["lot_ids"]],
            account_id=account.id,
            remaining__gt=0,
            expires_at__gt=clock.now(),
        )
        .order_by("expires_at", "id")
        .all()
    )
    if not lots:
        return []
    return await to_owners(
        account.id,
        "credits_expiring",
        kind=OutboxKind.CREDITS_EXPIRING,
        settings=settings,
        account=account,
        lots=lots,
        total=sum(lot.remaining for lot in lots),
        threshold_days=int(message.payload["threshold_days"]),
        lots_url=links.lots(settings),
    )


async def credits_expired(message: OutboxMessage, settings: Settings) -> list[Email]:
    account = await Account.get(id=message.payload["account_id"])
    entries = (
        await LedgerEntry.filter(
            id__in=[int(i) for i in message.payload["entry_ids"]],
            account_id=account.id,
            kind=EntryKind.EXPIRY,
        )
        .select_related("lot")
        .order_by("id")
    )
    if not entries:
        return []
    return await to_owners(
        account.id,
        "credits_expired",
        kind=OutboxKind.CREDITS_EXPIRED,
        settings=settings,
        account=account,
        entries=entries,
        total=sum(-entry.credits for entry in entries),
        balance_after=entries[-1].balance_after,
        lots_url=links.lots(settings),
    )
