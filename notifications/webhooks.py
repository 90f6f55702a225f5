"""Emails about an account's webhook endpoints."""

from __future__ import annotations

from ledger.events import OutboxKind
from models import Account, OutboxMessage, WebhookEndpoint
from notifications.emails import Email
from notifications.recipients import to_owners
from settings import Settings


async def webhook_endpoint_disabled(message: OutboxMessage, settings: Settings) -> list[Email]:
    endpoint = await WebhookEndpoint.get(id=message.payload["endpoint_id"])
    account = await Account.get(id=message.payload["account_id"])
    return await to_owners(
        account.id,
        "webhook_endpoint_disabled",
        kind=OutboxKind.WEBHOOK_ENDPOINT_DISABLED,
        settings=settings,
        account=account,
        endpoint=endpoint,
    )
