"""Emails about redemptions: to the owners who decide, and to the learner."""

from __future__ import annotations

from ledger.balances import available_credits
from ledger.events import OutboxKind
from models import EntryKind, LedgerEntry, OutboxMessage, Redemption, User
from notifications import links
from notifications.emails import Email
from notifications.recipients import to_owners, to_user
from settings import Settings


async def _redemption(message: OutboxMessage) -> Redemption:
    return await Redemption.get(id=message.payload["redemption_id"]).select_related(
        "account", "course", "learner"
    )


async def _balance_after_approval(redemption: Redemption) -> int:
    """The balance once the approval was applied (its last draw), as the ledger says."""
    last = (
        await LedgerEntry.filter(redemption_id=redemption.id, kind=EntryKind.REDEMPTION)
        .order_by("-id")
        .first()
    )
    if last is not None:
        return last.balance_after
    return await available_credits(redemption.account_id)


async def redemption_requested(message: OutboxMessage, settings: Settings) -> list[Email]:
    redemption = await _redemption(message)
    return await to_owners(
        redemption.account_id,
        "redemption_requested",
        kind=OutboxKind.REDEMPTION_REQUESTED,
        settings=settings,
        redemption=redemption,
        available=await available_credits(redemption.account_id),
        decide_url=links.redemptions(settings, "PENDING"),
    )


async def redemption_approved(message: OutboxMessage, settings: Settings) -> list[Email]:
    redemption = await _redemption(message)
    decided_by_id = redemption.decided_by_id
    decided_by = await User.get_or_none(id=decided_by_id) if decided_by_id else None
    learner = to_user(
        redemption.learner,
        "redemption_approved_learner",
        kind=OutboxKind.REDEMPTION_APPROVED,
        settings=settings,
        redemption=redemption,
    )
    owners = await to_owners(
        redemption.account_id,
        "redemption_approved_owner",
        kind=OutboxKind.REDEMPTION_APPROVED,
        settings=settings,
        redemption=redemption,
        decided_by=decided_by,
        balance_after=await _balance_after_approval(redemption),
        history_url=links.redemptions(settings, "APPROVED"),
    )
    return ([learner] if learner else []) + owners


async def redemption_denied(message: OutboxMessage, settings: Settings) -> list[Email]:
    redemption = await _redemption(message)
    learner = to_user(
        redemption.learner,
        "redemption_denied",
        kind=OutboxKind.REDEMPTION_DENIED,
        settings=settings,
        redemption=redemption,
    )
    return [learner] if learner else []


async def redemption_cancelled(message: OutboxMessage, settings: Settings) -> list[Email]:
    redemption = await _redemption(message)
    return await to_owners(
        redemption.account_id,
        "redemption_cancelled",
        kind=OutboxKind.REDEMPTION_CANCELLED,
        settings=settings,
        redemption=redemption,
        pending_url=links.redemptions(settings, "PENDING"),
    )


async def redemption_reversed(message: OutboxMessage, settings: Settings) -> list[Email]:
    redemption = await _redemption(message)
    reason = message.payload.get("reason") or redemption.reason
    learner = to_user(
        redemption.learner,
        "redemption_reversed_learner",
        kind=OutboxKind.REDEMPTION_REVERSED,
        settings=settings,
        redemption=redemption,
        reason=reason,
    )
    owners = await to_owners(
        redemption.account_id,
        "redemption_reversed_owner",
        kind=OutboxKind.REDEMPTION_REVERSED,
        settings=settings,
        redemption=redemption,
        reason=reason,
        available=await available_credits(redemption.account_id),
        lots_url=links.lots(settings),
    )
    return ([learner] if learner else []) + owners
