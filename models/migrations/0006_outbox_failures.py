"""Outbox rows that failed for good, and when a dispatched row counts as lost.

`failed_at` keeps a given-up notification visible (and retryable) instead of silently
dispatched forever; `stale_at` tells a row the broker lost from one waiting for its retry
(`last_attempt_at` is for people). The partial index keeps the relay's look for lost rows
off the delivered rows that pile up. Rows the old code gave up on silently (more attempts
than the default retries, undelivered) start out failed rather than being sent again,
months late.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("credits", "0005_live_lots_by_account")]

    operations = [
        ops.AddField(
            model_name="OutboxMessage",
            name="last_attempt_at",
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name="OutboxMessage",
            name="failed_at",
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name="OutboxMessage",
            name="stale_at",
            field=fields.DatetimeField(null=True),
        ),
        ops.RunSQL(
            'CREATE INDEX "outbox_message_undelivered" ON "outbox_message" ("stale_at")'
            " WHERE delivered_at IS NULL AND failed_at IS NULL",
            reverse_sql='DROP INDEX "outbox_message_undelivered"',
        ),
        ops.RunSQL(
            'UPDATE "outbox_message" SET "failed_at" = "created_at"'
            ' WHERE "delivered_at" IS NULL AND "attempts" > 20',
            reverse_sql='UPDATE "outbox_message" SET "failed_at" = NULL',
        ),
    ]
