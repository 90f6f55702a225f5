"""Support staff's tools: extend a lot, reverse a redemption, adjust credits, find accounts.

Every action needs a reason, is audited with its actor, and tells the people concerned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.expressions import F, Q

from ledger import access, audit, clock, entries, outbox
from ledger.actors import Actor
from ledger.audit import AuditAction
from ledger.balances import available_credits
from ledger.db import atomic, lock_account
from ledger.draws import draw_from_lots
from ledger.errors import InvalidInput, NotPending
from ledger.events import OutboxKind
from ledger.pages import Page, PageRequest, newest_first
from ledger.purchases import add_lot
from ledger.text import clean_reason, clean_text
from models import (
    MAX_CREDITS_PER_PURCHASE,
    Account,
    Draw,
    EntryKind,
    Lot,
    Redemption,
    RedemptionStatus,
    limits,
)

MAX_EXTENSION = timedelta(days=5 * 365)
EXPIRED_AGAIN = "reversed after the lot expired"


async def extend_lot(*, actor: Actor, lot_id: int, expires_at: datetime, reason: str) -> Lot:
    """Move a lot's expiry later, case by case; an expired lot is not revived."""
    access.require_support(actor)
    why = clean_reason(reason)
    expires_at = _new_expiry(expires_at)
    row = await access.lot_for(actor, lot_id)

    async def extend() -> Lot:
        await lock_account(row.account_id)
        now = clock.now()
        lot = await _live_lot(lot_id, extended_to=expires_at, now=now)
        previous = lot.expires_at
        lot.expires_at = expires_at
        await lot.save(update_fields=["expires_at"])
        entry = await entries.write_entry(
            account_id=lot.account_id,
            lot=lot,
            kind=EntryKind.EXTENSION,
            credits=0,
            balance_after=await available_credits(lot.account_id, now),
            actor_id=actor.user_id,
            now=now,
            reason=why,
            expires_at=expires_at,
        )
        await audit.record(
            AuditAction.LOT_EXTENDED,
            actor,
            lot.account_id,
            reason=why,
            lot_id=lot.id,
            previous=previous.isoformat(),
            expires_at=expires_at.isoformat(),
        )
        await outbox.enqueue(OutboxKind.LOT_EXTENDED, lot_id=lot.id, entry_id=entry.id)
        return lot

    return await atomic(extend)


def _new_expiry(expires_at: datetime) -> datetime:
    """A client's new expiry, in UTC, at most MAX_EXTENSION ahead."""
    if expires_at.tzinfo is None:
        raise InvalidInput("expiresAt needs a time zone", field=["expiresAt"])
    try:
        expires_at = expires_at.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput("expiresAt is out of range", field=["expiresAt"]) from exc
    if expires_at > clock.now() + MAX_EXTENSION:
        raise InvalidInput("a lot can be extended at most five years ahead", field=["expiresAt"])
    return expires_at


async def _live_lot(lot_id: int, *, extended_to: datetime, now: datetime) -> Lot:
    """The lot, locked, if it has not expired and `extended_to` is later than its expiry."""
    lot = await Lot.select_for_update().get(id=lot_id)
    if lot.expires_at <= now:
        raise InvalidInput("this lot has already expired", field=["lotId"])
    if extended_to <= lot.expires_at:
        raise InvalidInput("the new expiry must be later than the current one", field=["expiresAt"])
    return lot


async def reverse_redemption(*, actor: Actor, redemption_id: int, reason: str) -> Redemption:
    """Refund an approved redemption to the lots it came from.

    A share whose lot has expired since is expired again in the same transaction
    (REVERSAL then EXPIRY): a reversal never revives expired credits.
    """
    access.require_support(actor)
    why = clean_reason(reason)
    row = await access.redemption_for_owner(actor, redemption_id)

    async def reverse() -> Redemption:
        await lock_account(row.account_id)
        redemption = await _approved_redemption(redemption_id)
        await _refund_draws(redemption, actor_id=actor.user_id, reason=why, now=clock.now())
        redemption.status, redemption.reason = RedemptionStatus.REVERSED, why
        await redemption.save(update_fields=["status", "reason"])
        await audit.record(
            AuditAction.REDEMPTION_REVERSED,
            actor,
            redemption.account_id,
            reason=why,
            redemption_id=redemption.id,
            credits=redemption.credits,
        )
        await outbox.enqueue(
            OutboxKind.REDEMPTION_REVERSED, redemption_id=redemption.id, reason=why
        )
        return redemption

    return await atomic(reverse)


async def _approved_redemption(redemption_id: int) -> Redemption:
    redemption = await Redemption.select_for_update().get(id=redemption_id)
    if redemption.status is not RedemptionStatus.APPROVED:
        raise NotPending("only an approved redemption can be reversed", field=["id"])
    return redemption


async def _refund_draws(
    redemption: Redemption, *, actor_id: int, reason: str, now: datetime
) -> None:
    """Each draw goes back to its lot (REVERSAL); the share of a lot that has expired
    since is expired again at once (EXPIRY), so the balance only gains live credits."""
    draws = {d.lot_id: d.credits for d in await Draw.filter(redemption_id=redemption.id)}
    lots = (
        await Lot.filter(id__in=list(draws))
        .order_by("expires_at", "purchased_at", "id")
        .select_for_update()
    )
    balance = await available_credits(redemption.account_id, now)
    for lot in lots:
        credits, live = draws[lot.id], lot.expires_at > now
        postings = [(EntryKind.REVERSAL, credits, reason)]
        if live:
            balance += credits
            await Lot.filter(id=lot.id).update(remaining=F("remaining") + credits)
        else:
            postings.append((EntryKind.EXPIRY, -credits, EXPIRED_AGAIN))
        for kind, signed, why in postings:
            await entries.write_entry(
                account_id=redemption.account_id,
                lot=lot,
                kind=kind,
                credits=signed,
                balance_after=balance,
                actor_id=actor_id,
                now=now,
                redemption=redemption,
                reason=why,
            )


async def adjust_credits(*, actor: Actor, account_id: int, credits: int, reason: str) -> Account:
    """Add credits as a new lot, or remove them from the lots in draw order."""
    access.require_support(actor)
    why = clean_reason(reason)
    _check_adjustment(credits)
    await access.account_for(actor, account_id)

    async def adjust() -> Account:
        account = await lock_account(account_id)
        now = clock.now()
        if credits > 0:
            await add_lot(
                account=account,
                credits=credits,
                purchased_at=now,
                kind=EntryKind.ADJUSTMENT,
                actor_id=actor.user_id,
                reason=why,
            )
        else:
            draws = await draw_from_lots(account_id=account.id, credits=-credits, now=now)
            await entries.write_draws(
                draws,
                account_id=account.id,
                kind=EntryKind.ADJUSTMENT,
                actor_id=actor.user_id,
                now=now,
                reason=why,
            )
        await audit.record(
            AuditAction.CREDITS_ADJUSTED, actor, account.id, reason=why, credits=credits
        )
        return account

    return await atomic(adjust)


def _check_adjustment(credits: int) -> None:
    if credits == 0 or abs(credits) > MAX_CREDITS_PER_PURCHASE:
        raise InvalidInput(
            f"credits must be non-zero and at most {MAX_CREDITS_PER_PURCHASE:,} either way",
            field=["credits"],
        )


async def list_accounts(*, actor: Actor, search: str | None, page: PageRequest) -> Page[Account]:
    """All accounts, for support staff; `search` matches the name or an owner's email."""
    access.require_support(actor)
    query = Account.all()
    if search and search.strip():
        term = clean_text(search, "search", max_length=limits.SEARCH)
        ids = await Account.filter(
            Q(name__icontains=term) | Q(ownerships__user__email__icontains=term)
        ).values_list("id", flat=True)
        query = query.filter(id__in=list(set(ids)))
    return await newest_first(query, page=page)
