"""Outgoing webhooks: an account's endpoints, the events they are sent, one delivery per
event and endpoint.

Invariants:
- An endpoint's `secret` is AES-GCM ciphertext under SECRET_KEY (ledger.webhooks); the
  secret itself is shown once, when the endpoint is created.
- One event per outbox row and event type (UNIQUE(source_outbox_id, type)): a relay that
  fans the same row out twice makes nothing twice. `body` is the exact JSON POSTed, so
  every attempt and every redelivery sends the same bytes and the same `public_id`.
- One delivery per event and endpoint (UNIQUE(event_id, endpoint_id)). `attempts` only
  grows: an attempt is claimed by raising it from the value read, so two workers never
  make the same attempt, and an outcome is recorded only by the attempt that claimed it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models import limits

if TYPE_CHECKING:
    from models.accounts import Account


class WebhookDeliveryStatus(StrEnum):
    PENDING = "PENDING"  # waiting for its first attempt or its next retry
    SUCCEEDED = "SUCCEEDED"  # the endpoint answered 2xx
    FAILED = "FAILED"  # every retry failed for the retry window (3 days by default)


class WebhookEndpoint(Model):
    """Where an account's events are POSTed. `disabled_at` set: nothing is sent to it
    until an owner enables it again (after persistent failure, or by hand)."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="webhook_endpoints", on_delete=fields.CASCADE
    )
    account_id: int
    url = fields.CharField(max_length=limits.WEBHOOK_URL)
    description = fields.CharField(max_length=limits.WEBHOOK_DESCRIPTION, default="")
    events: Any = fields.JSONField()
    secret = fields.TextField()
    # balance.low is sent when the available balance falls below this (once per fall).
    balance_low_threshold = fields.IntField(null=True)
    balance_low_sent = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    last_success_at = fields.DatetimeField(null=True)
    disabled_at = fields.DatetimeField(null=True)
    disabled_reason = fields.TextField(null=True)

    class Meta:
        table = "webhook_endpoint"
        indexes = [("account_id", "id")]


class WebhookEvent(Model):
    """Something that happened to an account, as its endpoints are sent it."""

    id = fields.IntField(primary_key=True)
    public_id = fields.CharField(max_length=limits.WEBHOOK_EVENT_ID, unique=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="webhook_events", on_delete=fields.CASCADE
    )
    account_id: int
    type = fields.CharField(max_length=limits.KIND_NAME)
    # The outbox row it was made from; null for a ping.
    source_outbox_id = fields.IntField(null=True)
    body = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_event"
        unique_together = [("source_outbox_id", "type")]


class WebhookDelivery(Model):
    """One event sent to one endpoint, retried until it succeeds or its window closes."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[WebhookEvent] = fields.ForeignKeyField(
        "credits.WebhookEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id: int
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "credits.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    endpoint_id: int
    status = fields.CharEnumField(WebhookDeliveryStatus, max_length=limits.ENUM_NAME)
    attempts = fields.IntField(default=0)
    # When the next attempt is due (null once SUCCEEDED or FAILED); while an attempt
    # runs, when it counts as lost.
    next_attempt_at = fields.DatetimeField(null=True)
    # When the relay last handed it to the workers (null: waiting to be handed over).
    dispatched_at = fields.DatetimeField(null=True)
    # Retries stop once this is older than the retry window (set again by a redelivery).
    retry_from = fields.DatetimeField()
    last_attempt_at = fields.DatetimeField(null=True)
    response_status = fields.IntField(null=True)
    response_body = fields.TextField(null=True)  # at most 1 KB of it
    response_ms = fields.IntField(null=True)
    last_error = fields.TextField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_delivery"
        unique_together = [("event_id", "endpoint_id")]
        indexes = [("status", "next_attempt_at"), ("endpoint_id", "id")]
