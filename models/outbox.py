from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models import limits

if TYPE_CHECKING:
    from models.ledger import Lot


class OutboxMessage(Model):
    """A notification intent, written in the transaction that caused it.

    The relay hands undispatched rows to the broker and stamps `dispatched_at`; a row
    dispatched long ago and neither delivered nor failed is handed over again.
    """

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=limits.KIND_NAME)
    payload: Any = fields.JSONField()
    created_at = fields.DatetimeField()
    dispatched_at = fields.DatetimeField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    last_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    # Set when delivery gave up (a permanent refusal, or the retries ran out); the row
    # stays listed by `credits outbox` until `credits outbox --retry` clears it.
    failed_at = fields.DatetimeField(null=True)
    # When a dispatched, undelivered row counts as lost by the broker: its hand-over or
    # last failed attempt, plus the longest wait for its next try, plus a grace.
    stale_at = fields.DatetimeField(null=True)
    # When the webhook relay made this row's webhook events (null: not yet).
    webhooks_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_message"
        indexes = [("dispatched_at", "id")]


class EmailDelivery(Model):
    """Written right after the SMTP server accepted the copy for one recipient."""

    id = fields.IntField(primary_key=True)
    message: fields.ForeignKeyRelation[OutboxMessage] = fields.ForeignKeyField(
        "credits.OutboxMessage", related_name="deliveries", on_delete=fields.CASCADE
    )
    message_id: int
    recipient = fields.CharField(max_length=limits.EMAIL)
    sent_at = fields.DatetimeField()

    class Meta:
        table = "email_delivery"
        unique_together = [("message_id", "recipient")]


class ReminderSent(Model):
    """An expiry reminder for one lot at one threshold (days) was queued."""

    id = fields.IntField(primary_key=True)
    lot: fields.ForeignKeyRelation[Lot] = fields.ForeignKeyField(
        "credits.Lot", related_name="reminders", on_delete=fields.CASCADE
    )
    lot_id: int
    threshold_days = fields.IntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "reminder_sent"
        unique_together = [("lot_id", "threshold_days")]


class JobLease(Model):
    """A named lease so that two schedulers never run one job at once (no Redis).

    Also used per message being delivered (`mail:outbox:<id>`), so that two workers never
    deliver one message at once.
    """

    name = fields.CharField(max_length=limits.KIND_NAME, primary_key=True)
    holder = fields.CharField(max_length=limits.LEASE_HOLDER)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "job_lease"
