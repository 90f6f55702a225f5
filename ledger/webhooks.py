"""Outgoing webhooks: owners manage their account's endpoints (decision 31).

Each endpoint has a signing secret, shown once when it is created and kept encrypted
under SECRET_KEY (it must be read back to sign). A body is signed like Stripe's:
`Credits-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from enum import StrEnum

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger import access, clock
from ledger.actors import Actor
from ledger.codes import derived_key
from ledger.db import atomic
from ledger.errors import InvalidInput
from ledger.ids import global_id
from ledger.pages import Page, PageRequest, newest_first
from ledger.text import clean_text
from ledger.webhook_targets import check_url
from models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, WebhookEvent, limits
from settings import Settings, get_settings

SIGNATURE_HEADER = "Credits-Signature"
EVENT_ID_HEADER = "Credits-Event-Id"
PING = "ping"
MAX_ENDPOINTS_PER_ACCOUNT = 20
_UNSET = object()


class WebhookEventType(StrEnum):
    """What an endpoint can be sent, by the name its bodies carry in `type`."""

    REDEMPTION_REQUESTED = "redemption.requested"
    REDEMPTION_APPROVED = "redemption.approved"
    REDEMPTION_DENIED = "redemption.denied"
    REDEMPTION_CANCELLED = "redemption.cancelled"
    REDEMPTION_REVERSED = "redemption.reversed"
    PURCHASE_PAID = "purchase.paid"
    LOT_EXPIRING = "lot.expiring"
    LOT_EXPIRED = "lot.expired"
    BALANCE_LOW = "balance.low"


@dataclass(frozen=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret, which is never shown again."""

    endpoint: WebhookEndpoint
    signing_secret: str


def _cipher() -> AESGCM:
    return AESGCM(derived_key(b"webhook-secret"))


def encrypt_secret(secret: str) -> str:
    nonce = os.urandom(12)
    return base64.urlsafe_b64encode(
        nonce + _cipher().encrypt(nonce, secret.encode(), b"wh")
    ).decode()


def decrypt_secret(ciphertext: str) -> str:
    blob = base64.urlsafe_b64decode(ciphertext.encode())
    return _cipher().decrypt(blob[:12], blob[12:], b"wh").decode()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def render_body(event_id: str, type_: str, account_id: int, data: dict[str, object]) -> str:
    """The JSON an event is POSTed as; stored once, so every attempt sends these bytes."""
    envelope = {
        "id": event_id,
        "type": type_,
        "createdAt": clock.now().isoformat(),
        "account": global_id("Account", account_id),
        "data": data,
    }
    return orjson.dumps(envelope).decode()


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(16)}"


def _clean_events(events: list[str]) -> list[str]:
    try:
        chosen = [WebhookEventType(e).value for e in events]
    except ValueError:
        raise InvalidInput("events names an unknown event type", field=["events"]) from None
    if not chosen:
        raise InvalidInput("choose at least one event", field=["events"])
    return sorted(set(chosen))


def _clean_threshold(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or not 1 <= value <= 2**31 - 1:
        raise InvalidInput(
            "balanceLowThreshold must be a positive number of credits",
            field=["balanceLowThreshold"],
        )
    return value


def _clean_description(value: str) -> str:
    return clean_text(value, "description", max_length=limits.WEBHOOK_DESCRIPTION)


async def create_endpoint(
    *,
    actor: Actor,
    account_id: int | None = None,
    url: str,
    events: list[str],
    description: str = "",
    balance_low_threshold: int | None = None,
    settings: Settings | None = None,
) -> CreatedEndpoint:
    """A new endpoint of the account, sent the `events` it chose from now on."""
    url = check_url(url, settings or get_settings())
    chosen = _clean_events(events)
    description = _clean_description(description)
    threshold = _clean_threshold(balance_low_threshold)
    account = await access.account_for(actor, account_id)
    if await WebhookEndpoint.filter(account_id=account.id).count() >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise InvalidInput(
            f"an account has at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook endpoints", field=["url"]
        )
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    now = clock.now()
    endpoint = await WebhookEndpoint.create(
        account_id=account.id,
        url=url,
        description=description,
        events=chosen,
        secret=encrypt_secret(secret),
        balance_low_threshold=threshold,
        created_at=now,
        updated_at=now,
    )
    return CreatedEndpoint(endpoint, secret)


async def update_endpoint(
    *,
    actor: Actor,
    endpoint_id: int,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    balance_low_threshold: object = _UNSET,
    enabled: bool | None = None,
    settings: Settings | None = None,
) -> WebhookEndpoint:
    """Change what is given; `enabled: true` resumes a disabled endpoint (its waiting
    deliveries are retried from now on for another window)."""
    endpoint = await access.webhook_endpoint_for(actor, endpoint_id)
    if url is not None:
        endpoint.url = check_url(url, settings or get_settings())
    if events is not None:
        endpoint.events = _clean_events(events)
    if description is not None:
        endpoint.description = _clean_description(description)
    if balance_low_threshold is not _UNSET:
        endpoint.balance_low_threshold = _clean_threshold(balance_low_threshold)
        endpoint.balance_low_sent = False
    now = clock.now()
    resumed = enabled is True and endpoint.disabled_at is not None
    if enabled is False and endpoint.disabled_at is None:
        endpoint.disabled_at, endpoint.disabled_reason = now, "disabled by an owner"
    if resumed:
        endpoint.disabled_at = None
        endpoint.disabled_reason = None  # type: ignore[assignment]
    endpoint.updated_at = now

    async def save() -> WebhookEndpoint:
        await endpoint.save()
        if resumed:
            await WebhookDelivery.filter(
                endpoint_id=endpoint.id, status=WebhookDeliveryStatus.PENDING
            ).update(retry_from=now, next_attempt_at=now, dispatched_at=None)
        return endpoint

    return await atomic(save)


async def delete_endpoint(*, actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    """Delete the endpoint and its deliveries; nothing more is sent to it."""
    endpoint = await access.webhook_endpoint_for(actor, endpoint_id)
    await endpoint.delete()
    return endpoint


async def list_endpoints(
    *, actor: Actor, account_id: int | None, page: PageRequest
) -> Page[WebhookEndpoint]:
    account = await access.account_for(actor, account_id)
    return await newest_first(WebhookEndpoint.filter(account_id=account.id), page=page)


async def list_deliveries(
    *, actor: Actor, endpoint_id: int, page: PageRequest
) -> Page[WebhookDelivery]:
    endpoint = await access.webhook_endpoint_for(actor, endpoint_id, field="endpointId")
    query = WebhookDelivery.filter(endpoint_id=endpoint.id)
    return await newest_first(query, page=page, related=("event",))


async def recent_deliveries(endpoint: WebhookEndpoint, *, limit: int = 10) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first (the caller may see the endpoint)."""
    query = WebhookDelivery.filter(endpoint_id=endpoint.id).select_related("event")
    return list(await query.order_by("-id").limit(limit))


async def _due_now(delivery_id: int) -> WebhookDelivery:
    now = clock.now()
    await WebhookDelivery.filter(id=delivery_id).update(
        status=WebhookDeliveryStatus.PENDING,
        next_attempt_at=now,
        dispatched_at=None,
        retry_from=now,
        delivered_at=None,
    )
    return await WebhookDelivery.get(id=delivery_id).select_related("event")


async def redeliver(*, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery's event again, same id and body, with a fresh retry window."""
    delivery = await access.webhook_delivery_for(actor, delivery_id, field="deliveryId")
    endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)
    if endpoint.disabled_at is not None:
        raise InvalidInput("the endpoint is disabled: enable it first", field=["deliveryId"])
    return await _due_now(delivery.id)


async def ping_endpoint(*, actor: Actor, endpoint_id: int) -> WebhookDelivery:
    """Send the endpoint a `ping` event now (whatever events it chose), to try it out."""
    endpoint = await access.webhook_endpoint_for(actor, endpoint_id)
    if endpoint.disabled_at is not None:
        raise InvalidInput("the endpoint is disabled: enable it first", field=["id"])
    event_id = new_event_id()
    data: dict[str, object] = {"endpoint": global_id("WebhookEndpoint", endpoint.id)}

    async def write() -> WebhookDelivery:
        now = clock.now()
        event = await WebhookEvent.create(
            public_id=event_id,
            account_id=endpoint.account_id,
            type=PING,
            body=render_body(event_id, PING, endpoint.account_id, data),
            created_at=now,
        )
        delivery = await WebhookDelivery.create(
            event=event,
            endpoint_id=endpoint.id,
            status=WebhookDeliveryStatus.PENDING,
            next_attempt_at=now,
            retry_from=now,
            created_at=now,
        )
        return await WebhookDelivery.get(id=delivery.id).select_related("event")

    return await atomic(write)
