"""From an outbox message to the emails it means: one per recipient."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ledger.events import OutboxKind
from models import OutboxMessage
from notifications import accounts, lots, redemptions, webhooks
from notifications.emails import Email
from notifications.recipients import unique_recipients
from settings import Settings, get_settings

Builder = Callable[[OutboxMessage, Settings], Awaitable[list[Email]]]

BUILDERS: dict[str, Builder] = {
    OutboxKind.PURCHASE_PAID: accounts.purchase_paid,
    OutboxKind.OWNER_ADDED: accounts.owner_added,
    OutboxKind.CODE_ROTATED: accounts.code_rotated,
    OutboxKind.QUOTE_REQUESTED: accounts.quote_requested,
    OutboxKind.REDEMPTION_REQUESTED: redemptions.redemption_requested,
    OutboxKind.REDEMPTION_APPROVED: redemptions.redemption_approved,
    OutboxKind.REDEMPTION_DENIED: redemptions.redemption_denied,
    OutboxKind.REDEMPTION_CANCELLED: redemptions.redemption_cancelled,
    OutboxKind.REDEMPTION_REVERSED: redemptions.redemption_reversed,
    OutboxKind.LOT_EXTENDED: lots.lot_extended,
    OutboxKind.CREDITS_EXPIRING: lots.credits_expiring,
    OutboxKind.CREDITS_EXPIRED: lots.credits_expired,
    OutboxKind.WEBHOOK_ENDPOINT_DISABLED: webhooks.webhook_endpoint_disabled,
}


class UnknownKind(LookupError):
    """No template for this kind of message (perhaps written by a newer release)."""


async def build_emails(message: OutboxMessage, *, settings: Settings | None = None) -> list[Email]:
    """Load the rows `message` names and render one email per recipient.

    Raises `tortoise.exceptions.DoesNotExist` when a row it names is gone.
    """
    builder = BUILDERS.get(message.kind)
    if builder is None:
        raise UnknownKind(f"no email for outbox messages of kind {message.kind!r}")
    return unique_recipients(await builder(message, settings or get_settings()))
