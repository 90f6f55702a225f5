"""Outgoing webhooks in the schema: endpoints, deliveries, their inputs and payloads."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Self

import strawberry

import models
from graph.enums import WebhookDeliveryStatus, WebhookEventType
from graph.inputs import ACCOUNT_ID
from graph.payloads import ERRORS, Payload, payload
from graph.types import NodeType, UserError
from ledger import webhooks
from ledger.webhooks import CreatedEndpoint

THRESHOLD = (
    "`balance.low` is sent when the available balance falls below this many credits (once "
    "per fall; it is sent again after the balance has been back at or above it). Null: "
    "never."
)


@strawberry.type(
    description="Where an account's events are POSTed, signed with the endpoint's secret "
    "(see the README: how to verify a webhook). Managed by the account's owners and "
    "support staff."
)
class WebhookEndpoint(NodeType):
    url: str = strawberry.field(
        description="Where events are POSTed: https:// (http:// only to a loopback host in "
        "development); in production never to a private, loopback or link-local address."
    )
    description: str = strawberry.field(description="What the owners call it.")
    events: list[WebhookEventType] = strawberry.field(description="The events it is sent.")
    balance_low_threshold: int | None = strawberry.field(description=THRESHOLD)
    enabled: bool = strawberry.field(
        description="False once disabled (by an owner, or after failing every delivery for "
        "3 days, when the owners are emailed): nothing is sent until it is enabled again."
    )
    disabled_at: datetime | None = strawberry.field(description="When it was disabled.")
    disabled_reason: str | None = strawberry.field(description="Why it was disabled.")
    last_success_at: datetime | None = strawberry.field(
        description="When it last answered a delivery with a 2xx status."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")
    row: strawberry.Private[models.WebhookEndpoint]

    @classmethod
    def from_model(cls, row: models.WebhookEndpoint) -> Self:
        return cls.copied_from(
            row,
            events=[WebhookEventType(e) for e in row.events],
            enabled=row.disabled_at is None,
        )

    @strawberry.field(  # type: ignore[untyped-decorator]
        description="Its 10 latest deliveries, newest first (all of them: `webhookDeliveries`)."
    )
    async def recent_deliveries(self) -> list[WebhookDelivery]:
        rows = await webhooks.recent_deliveries(self.row)
        return [WebhookDelivery.from_model(row) for row in rows]


@strawberry.type(
    description="One event sent to one endpoint: retried with exponential backoff for 3 "
    "days until the endpoint answers 2xx. Every attempt sends the same body and event id."
)
class WebhookDelivery(NodeType):
    status: WebhookDeliveryStatus = strawberry.field(description="Where it stands.")
    event_id: str = strawberry.field(
        description="The event's id (`evt_…`), also sent as the `Credits-Event-Id` header: "
        "the same on every attempt and redelivery, so receivers can drop duplicates."
    )
    event_type: str = strawberry.field(
        description="The event's `type`, e.g. `redemption.approved`, or `ping`."
    )
    attempts: int = strawberry.field(description="Attempts made so far.")
    response_status: int | None = strawberry.field(
        description="The HTTP status of the last answer; null when there was none yet (a "
        "timeout, a refused address, a connection failure)."
    )
    response_body: str | None = strawberry.field(
        description="The first 1 KB of the last answer's body, at most."
    )
    response_time_ms: int | None = strawberry.field(
        description="How long the last attempt took, in milliseconds."
    )
    error: str | None = strawberry.field(description="Why the last attempt failed.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last tried.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When it is tried next; null once SUCCEEDED or FAILED."
    )
    delivered_at: datetime | None = strawberry.field(description="When it SUCCEEDED.")
    created_at: datetime = strawberry.field(description="When the event was queued for it.")

    @classmethod
    def from_model(cls, row: models.WebhookDelivery) -> Self:
        pending = row.status == models.WebhookDeliveryStatus.PENDING
        return cls.copied_from(
            row,
            event_id=row.event.public_id,
            event_type=row.event.type,
            response_time_ms=row.response_ms,
            error=row.last_error,
            next_attempt_at=row.next_attempt_at if pending else None,
        )


@strawberry.input(description="A new webhook endpoint of an account.")
class CreateWebhookEndpointInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)
    url: str = strawberry.field(
        description="Where to POST events (at most 2,048 characters): https:// (http:// "
        "only to a loopback host in development)."
    )
    events: list[WebhookEventType] = strawberry.field(description="The events to send it.")
    description: str = strawberry.field(
        default="", description="What the owners call it (at most 500 characters)."
    )
    balance_low_threshold: int | None = strawberry.field(default=None, description=THRESHOLD)


@strawberry.input(description="What to change on an endpoint; fields left out stay as they are.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The `WebhookEndpoint.id`.")
    url: str | None = strawberry.field(default=strawberry.UNSET, description="A new URL.")
    events: list[WebhookEventType] | None = strawberry.field(
        default=strawberry.UNSET, description="The events to send it from now on."
    )
    description: str | None = strawberry.field(
        default=strawberry.UNSET, description="A new description."
    )
    balance_low_threshold: int | None = strawberry.field(
        default=strawberry.UNSET, description=f"{THRESHOLD} Null clears it."
    )
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="False stops sending; true resumes, and its waiting deliveries are "
        "retried for another 3 days.",
    )


@strawberry.input(description="An endpoint to delete, with its deliveries.")
class DeleteWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The `WebhookEndpoint.id`.")


@strawberry.input(description="An endpoint to send a `ping` event to now.")
class PingWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The `WebhookEndpoint.id`.")


@strawberry.input(description="A delivery to send again, with the same event id and body.")
class RedeliverWebhookInput:
    delivery_id: strawberry.ID = strawberry.field(description="The `WebhookDelivery.id`.")


@strawberry.type(description="What `createWebhookEndpoint` answers.")
class CreateWebhookEndpointPayload(Payload):
    result_name: ClassVar[str] = "webhook_endpoint"
    webhook_endpoint: WebhookEndpoint | None = strawberry.field(
        description="The endpoint created. Null when refused."
    )
    signing_secret: str | None = strawberry.field(
        description="The endpoint's signing secret (`whsec_…`): shown this once, never "
        "again; receivers verify `Credits-Signature` with it. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)

    @classmethod
    def made(cls, row: CreatedEndpoint) -> Self:
        return cls(
            webhook_endpoint=WebhookEndpoint.from_model(row.endpoint),
            signing_secret=row.signing_secret,
            errors=[],
        )

    @classmethod
    def refused(cls, errors: list[UserError]) -> Self:
        return cls(webhook_endpoint=None, signing_secret=None, errors=errors)


@payload("updateWebhookEndpoint", "The endpoint as it is now.")
class UpdateWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None


@payload("deleteWebhookEndpoint", "The endpoint as it was before it was deleted.")
class DeleteWebhookEndpointPayload(Payload):
    webhook_endpoint: WebhookEndpoint | None


@payload(
    "pingWebhookEndpoint",
    "The ping's delivery, PENDING: read it back with `webhookDeliveries` or `node` to see "
    "the answer.",
)
class PingWebhookEndpointPayload(Payload):
    webhook_delivery: WebhookDelivery | None


@payload("redeliverWebhook", "The delivery, PENDING again and due now.")
class RedeliverWebhookPayload(Payload):
    webhook_delivery: WebhookDelivery | None
