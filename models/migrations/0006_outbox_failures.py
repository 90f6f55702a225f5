"""Outbox rows that failed for good, and when delivery was last tried.

`failed_at` keeps a given-up notification visible (and retryable) instead of silently
dispatched forever; `last_attempt_at` lets the relay tell a row the broker lost from one
waiting for its retry. The partial index keeps the relay's look for lost rows off the
delivered rows that pile up.
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
        ops.RunSQL(
            'CREATE INDEX "outbox_message_undelivered" ON "outbox_message" ("dispatched_at")'
            " WHERE delivered_at IS NULL AND failed_at IS NULL",
            reverse_sql='DROP INDEX "outbox_message_undelivered"',
        ),
    ]
