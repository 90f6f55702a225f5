"""Notification intents, written in the transaction of the change that causes them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ledger import clock, events
from models import OutboxMessage

# The payload of each kind (ledger.events).
PAYLOADS: dict[events.OutboxKind, type[events.Payload]] = {
    events.OutboxKind.PURCHASE_PAID: events.PurchasePaid,
    events.OutboxKind.OWNER_ADDED: events.OwnerAdded,
    events.OutboxKind.CODE_ROTATED: events.CodeRotated,
    events.OutboxKind.REDEMPTION_REQUESTED: events.RedemptionChanged,
    events.OutboxKind.REDEMPTION_APPROVED: events.RedemptionChanged,
    events.OutboxKind.REDEMPTION_DENIED: events.RedemptionChanged,
    events.OutboxKind.REDEMPTION_CANCELLED: events.RedemptionChanged,
    events.OutboxKind.REDEMPTION_REVERSED: events.RedemptionReversed,
    events.OutboxKind.QUOTE_REQUESTED: events.QuoteRequested,
    events.OutboxKind.LOT_EXTENDED: events.LotExtended,
    events.OutboxKind.CREDITS_EXPIRING: events.CreditsExpiring,
    events.OutboxKind.CREDITS_EXPIRED: events.CreditsExpired,
    events.OutboxKind.WEBHOOK_ENDPOINT_DISABLED: events.WebhookEndpointDisabled,
}


def new_message(kind: str, payload: Mapping[str, object], now: datetime) -> OutboxMessage:
    """An unsaved outbox row. A payload whose keys are not its kind's TypedDict's (see
    ledger.events) is a bug: RuntimeError, rather than a message the mailer cannot read."""
    expected = set(PAYLOADS[events.OutboxKind(kind)].__annotations__)
    if set(payload) != expected:
        raise RuntimeError(f"a {kind} message takes {sorted(expected)}, not {sorted(payload)}")
    return OutboxMessage(kind=kind, payload=dict(payload), created_at=now)


async def enqueue(kind: str, **payload: object) -> OutboxMessage:
    """Queue a notification of `kind`, in the caller's transaction."""
    message = new_message(kind, payload, clock.now())
    await message.save()
    return message


async def list_undelivered(*, limit: int) -> str:
    """What `credits outbox` prints: notifications not yet delivered, failed ones first."""
    failed = await OutboxMessage.filter(failed_at__isnull=False, delivered_at__isnull=True).count()
    waiting = await OutboxMessage.filter(failed_at__isnull=True, delivered_at__isnull=True).count()
    # Failed ones first (two queries: databases disagree on where NULLs sort).
    undelivered = OutboxMessage.filter(delivered_at__isnull=True)
    rows = [
        *await undelivered.filter(failed_at__isnull=False).order_by("id").limit(limit),
        *await undelivered.filter(failed_at__isnull=True).order_by("id").limit(limit),
    ][:limit]
    lines = [
        f"{failed} failed for good, {waiting} on their way: {failed + waiting} undelivered"
        f" (showing at most {limit})"
    ]
    for row in rows:
        state = "FAILED" if row.failed_at else "dispatched" if row.dispatched_at else "waiting"
        lines.append(
            f"{row.id:>8}  {row.kind:<22} {state:<10} attempts={row.attempts}  "
            f"{(row.last_error or '')[:120]}"
        )
    if failed:
        lines.append("`credits outbox --retry` sends the failed ones again")
    return "\n".join(lines)


async def retry_failed() -> int:
    """Queue every notification that failed for good again, with a fresh retry budget;
    recipients already emailed are still skipped. Answers how many."""
    return await OutboxMessage.filter(failed_at__isnull=False, delivered_at__isnull=True).update(
        failed_at=None, dispatched_at=None, attempts=0
    )
