"""From committed outbox rows to webhook events, one per subscribed event type
(decision 31).

The relay calls `fan_out` after the transactions that wrote the rows committed, so an
event exists only for a change that happened. Each row is marked (`webhooks_at`) in the
transaction that writes its events and deliveries: a row is turned into events once, and
the events' bodies — ids, not secrets — are written then and never again.

`balance.low` goes to an endpoint once each time the available balance falls below its
threshold, checked after the changes that can cross it (a new approval or expiry lowers
it; a purchase or reversal raises it again and re-arms the endpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from tortoise.exceptions import DoesNotExist

from ledger import balances, clock
from ledger.db import atomic, is_postgres
from ledger.events import OutboxKind
from ledger.ids import global_id
from ledger.webhooks import WebhookEventType, new_event_id, render_body
from models import (
    LedgerEntry,
    Lot,
    OutboxMessage,
    Purchase,
    Redemption,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

log = logging.getLogger("credits.webhooks")
BATCH = 200

Data = dict[str, Any]
# An outbox row's account and the body data of its event.
Builder = Callable[[dict[str, Any]], Awaitable[tuple[int, Data]]]

TYPES: dict[str, WebhookEventType] = {
    OutboxKind.REDEMPTION_REQUESTED: WebhookEventType.REDEMPTION_REQUESTED,
    OutboxKind.REDEMPTION_APPROVED: WebhookEventType.REDEMPTION_APPROVED,
    OutboxKind.REDEMPTION_DENIED: WebhookEventType.REDEMPTION_DENIED,
    OutboxKind.REDEMPTION_CANCELLED: WebhookEventType.REDEMPTION_CANCELLED,
    OutboxKind.REDEMPTION_REVERSED: WebhookEventType.REDEMPTION_REVERSED,
    OutboxKind.PURCHASE_PAID: WebhookEventType.PURCHASE_PAID,
    OutboxKind.CREDITS_EXPIRING: WebhookEventType.LOT_EXPIRING,
    OutboxKind.CREDITS_EXPIRED: WebhookEventType.LOT_EXPIRED,
}
# The kinds after which the available balance may have crossed a threshold.
BALANCE_CHANGES = {
    OutboxKind.REDEMPTION_APPROVED,
    OutboxKind.REDEMPTION_REVERSED,
    OutboxKind.PURCHASE_PAID,
    OutboxKind.CREDITS_EXPIRED,
}


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _redemption(payload: dict[str, Any]) -> tuple[int, Data]:
    row = await Redemption.get(id=payload["redemption_id"]).select_related("course", "learner")
    data: Data = {
        "redemption": {
            "id": global_id("Redemption", row.id),
            "status": row.status.value,
            "credits": row.credits,
            "requestedAt": _instant(row.requested_at),
            "decidedAt": _instant(row.decided_at),
            "reason": row.reason,
            "course": {
                "id": global_id("Course", row.course.id),
                "sku": row.course.sku,
                "title": row.course.title,
            },
            "learner": {
                "id": global_id("User", row.learner.id),
                "email": row.learner.email,
                "name": row.learner.name,
            },
        }
    }
    if "reason" in payload:
        data["redemption"]["reason"] = payload["reason"]
    return row.account_id, data


def _lot(lot: Lot) -> Data:
    return {
        "id": global_id("Lot", lot.id),
        "credits": lot.credits,
        "remaining": lot.remaining,
        "expiresAt": _instant(lot.expires_at),
    }


async def _purchase(payload: dict[str, Any]) -> tuple[int, Data]:
    purchase = await Purchase.get(id=payload["purchase_id"])
    lot = await Lot.get(purchase_id=purchase.id)
    return purchase.account_id, {
        "purchase": {
            "id": global_id("Purchase", purchase.id),
            "credits": purchase.credits,
            "unitPriceCents": purchase.unit_price_cents,
            "discountPercent": purchase.discount_percent,
            "amountCents": purchase.amount_cents,
            "paidAt": _instant(purchase.paid_at),
        },
        "lot": _lot(lot),
    }


async def _expiring(payload: dict[str, Any]) -> tuple[int, Data]:
    lots = await Lot.filter(id__in=payload["lot_ids"]).order_by("expires_at", "id")
    return payload["account_id"], {
        "thresholdDays": payload["threshold_days"],
        "lots": [_lot(lot) for lot in lots],
    }


async def _expired(payload: dict[str, Any]) -> tuple[int, Data]:
    entries = await LedgerEntry.filter(id__in=payload["entry_ids"]).order_by("id")
    return payload["account_id"], {
        "credits": -sum(entry.credits for entry in entries),
        "expirations": [
            {
                "transaction": global_id("Transaction", entry.id),
                "lot": global_id("Lot", entry.lot_id) if entry.lot_id else None,
                "credits": -entry.credits,
            }
            for entry in entries
        ],
    }


BUILDERS: dict[WebhookEventType, Builder] = {
    WebhookEventType.REDEMPTION_REQUESTED: _redemption,
    WebhookEventType.REDEMPTION_APPROVED: _redemption,
    WebhookEventType.REDEMPTION_DENIED: _redemption,
    WebhookEventType.REDEMPTION_CANCELLED: _redemption,
    WebhookEventType.REDEMPTION_REVERSED: _redemption,
    WebhookEventType.PURCHASE_PAID: _purchase,
    WebhookEventType.LOT_EXPIRING: _expiring,
    WebhookEventType.LOT_EXPIRED: _expired,
}


async def _write_event(
    message: OutboxMessage,
    type_: WebhookEventType,
    account_id: int,
    data: Data,
    endpoints: list[WebhookEndpoint],
) -> int:
    if not endpoints:
        return 0
    now = clock.now()
    public_id = new_event_id()
    event = await WebhookEvent.create(
        public_id=public_id,
        account_id=account_id,
        type=type_.value,
        source_outbox_id=message.id,
        body=render_body(public_id, type_.value, account_id, data),
        created_at=now,
    )
    await WebhookDelivery.bulk_create(
        [
            WebhookDelivery(
                event_id=event.id,
                endpoint_id=endpoint.id,
                status=WebhookDeliveryStatus.PENDING,
                next_attempt_at=now,
                retry_from=now,
                created_at=now,
            )
            for endpoint in endpoints
        ]
    )
    return len(endpoints)


def _subscribed(endpoints: list[WebhookEndpoint], type_: WebhookEventType) -> list[WebhookEndpoint]:
    return [e for e in endpoints if type_.value in e.events]


async def _balance_low(message: OutboxMessage, account_id: int) -> int:
    """Send balance.low to the endpoints whose threshold the balance is now below and
    that were not sent it since it last was at or above; re-arm the others."""
    watching = [
        e
        for e in await WebhookEndpoint.filter(account_id=account_id, disabled_at__isnull=True)
        if WebhookEventType.BALANCE_LOW.value in e.events and e.balance_low_threshold
    ]
    if not watching:
        return 0
    available = await balances.available_credits(account_id)
    below = [e for e in watching if available < (e.balance_low_threshold or 0)]
    rearmed = [e.id for e in watching if e not in below and e.balance_low_sent]
    if rearmed:
        await WebhookEndpoint.filter(id__in=rearmed).update(balance_low_sent=False)
    fresh = [e for e in below if not e.balance_low_sent]
    if not fresh:
        return 0
    await WebhookEndpoint.filter(id__in=[e.id for e in fresh]).update(balance_low_sent=True)
    data: Data = {"available": available}
    return await _write_event(message, WebhookEventType.BALANCE_LOW, account_id, data, fresh)


async def _fan_out_one(message: OutboxMessage) -> int:
    type_ = TYPES.get(message.kind)
    if type_ is None:
        return 0
    try:
        account_id, data = await BUILDERS[type_](message.payload)
    except (DoesNotExist, KeyError) as exc:
        log.warning("outbox message %s: no webhook event (%s)", message.id, exc)
        return 0
    endpoints = await WebhookEndpoint.filter(account_id=account_id, disabled_at__isnull=True)
    made = await _write_event(message, type_, account_id, data, _subscribed(endpoints, type_))
    if message.kind in BALANCE_CHANGES:
        made += await _balance_low(message, account_id)
    return made


async def fan_out(*, batch: int = BATCH) -> int:
    """Turn up to `batch` unmarked outbox rows into webhook events and deliveries; answer
    how many deliveries were made. With no endpoint anywhere, rows are only marked."""

    async def work() -> int:
        query = OutboxMessage.filter(webhooks_at__isnull=True).order_by("id").limit(batch)
        if is_postgres():
            query = query.select_for_update(skip_locked=True)
        rows = list(await query)
        if not rows:
            return 0
        made = 0
        if await WebhookEndpoint.filter(disabled_at__isnull=True).exists():
            for row in rows:
                made += await _fan_out_one(row)
        await OutboxMessage.filter(id__in=[row.id for row in rows]).update(webhooks_at=clock.now())
        return made

    return await atomic(work)
