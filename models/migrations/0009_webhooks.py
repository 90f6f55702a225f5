"""Outgoing webhooks (issue 15, item 2; decision 31): endpoints, events, deliveries.

`outbox_message.webhooks_at` marks the rows the webhook relay has turned into events;
rows written before this migration start marked, so that history is not sent to
endpoints made later. The partial index keeps the relay's look for unmarked rows off
the marked ones that pile up (both databases take partial indexes).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.webhooks import WebhookDeliveryStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('credits', '0008_redemptions_in_one_statement')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WebhookEndpoint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('credits.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='webhook_endpoints', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2048)),
                ('description', fields.CharField(default='', max_length=500)),
                ('events', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('secret', fields.TextField(unique=False)),
                ('balance_low_threshold', fields.IntField(null=True)),
                ('balance_low_sent', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_success_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('disabled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('disabled_reason', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'webhook_endpoint', 'app': 'credits', 'indexes': [Index(fields=['account_id', 'id'])], 'pk_attr': 'id', 'table_description': "Where an account's events are POSTed. `disabled_at` set: nothing is sent to it"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('public_id', fields.CharField(unique=True, max_length=40)),
                ('account', fields.ForeignKeyField('credits.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='webhook_events', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharField(max_length=64)),
                ('source_outbox_id', fields.IntField(null=True)),
                ('body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_event', 'app': 'credits', 'unique_together': [('source_outbox_id', 'type')], 'pk_attr': 'id', 'table_description': 'Something that happened to an account, as its endpoints are sent it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event', fields.ForeignKeyField('credits.WebhookEvent', source_field='event_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.ForeignKeyField('credits.WebhookEndpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(description='PENDING: PENDING\nSUCCEEDED: SUCCEEDED\nFAILED: FAILED', enum_type=WebhookDeliveryStatus, max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('dispatched_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('retry_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('response_status', fields.IntField(null=True)),
                ('response_body', fields.TextField(null=True, unique=False)),
                ('response_ms', fields.IntField(null=True)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'credits', 'unique_together': [('event_id', 'endpoint_id')], 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['endpoint_id', 'id'])], 'pk_attr': 'id', 'table_description': 'One event sent to one endpoint, retried until it succeeds or its window closes.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OutboxMessage',
            name='webhooks_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunSQL(
            'UPDATE "outbox_message" SET "webhooks_at" = "created_at"',
            reverse_sql='UPDATE "outbox_message" SET "webhooks_at" = NULL',
        ),
        ops.RunSQL(
            'CREATE INDEX "outbox_message_webhooks_due" ON "outbox_message" ("id")'
            ' WHERE webhooks_at IS NULL',
            reverse_sql='DROP INDEX "outbox_message_webhooks_due"',
        ),
    ]

