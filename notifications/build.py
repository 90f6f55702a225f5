"""From an outbox message to the emails it means: one per recipient."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ledger import events
from models import OutboxMessage
from notifications import accounts, lots, redemptions, webhooks
from notifications.emails import Email
from notifications.recipients import unique_recipients
from settings import Settings, get_settings

Builder = Callable[[OutboxMessage, Settings], Awaitable[list[Email]]]

BUILDERS: dict[str, Builder] = {
    events.PURCHASE_PAID: accounts.purchase_paid,
    events.OWNER_ADDED: accounts.owner_added,
    events.CODE_ROTATED: accounts.code_rotated,
    events.QUOTE_REQUESTED: accounts.quote_requested,
    events.REDEMPTION_REQUESTED: redemptions.redemption_requested,
    events.REDEMPTION_APPROVED: redemptions.redemption_approved,
    events.REDEMPTION_DENIED: redemptions.redemption_denied,
    events.REDEMPTION_CANCELLED: redemptions.redemption_cancelled,
    events.REDEMPTION_REVERSED: redemptions.redemption_reversed,
    events.LOT_EXTENDED: lots.lot_extended,
    events.CREDITS_EXPIRING: lots.credits_expiring,
    events.CREDITS_EXPIRED: lots.credits_expired,
    events.WEBHOOK_ENDPOINT_DISABLED: webhooks.webhook_endpoint_disabled,
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
