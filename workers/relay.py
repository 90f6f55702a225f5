"""The outbox relay: hands committed notification rows to the workers, then marks them.

Rows are written in the transaction that caused them, so a rolled-back change never
reaches here. A row is marked dispatched only after the broker took it: when the broker
is down, rows wait and go out once it is back. On PostgreSQL several relays may run
(FOR UPDATE SKIP LOCKED); delivery is idempotent per recipient, so a row handed over
twice still emails nobody twice — which is what lets the sweeper hand a row over again
when the broker lost it (a Redis restart without persistence, a failover).

Each row is also published once as a live event for subscriptions (`live.feed`), after
the transaction that marked it dispatched committed; rows handed over again are not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from ledger import clock
from ledger.db import atomic, is_postgres
from ledger.live import events_from_outbox
from live.feed import Publisher, publisher
from models import OutboxMessage
from settings import Settings, get_settings
from workers.dispatch import Dispatcher
from workers.jobs import JobName
from workers.webhook_relay import relay_webhooks

log = logging.getLogger("credits.relay")
BATCH = 200


async def _hand_over(
    dispatcher: Dispatcher, rows: list[OutboxMessage], settings: Settings
) -> list[int]:
    """Send each row's delivery job until the broker refuses; the ids it took. Each row
    taken counts as lost if nothing is heard of it for OUTBOX_REDISPATCH_SECONDS."""
    sent: list[int] = []
    for row in rows:
        try:
            await dispatcher.send(JobName.DELIVER_NOTIFICATION, row.id, attempt=row.attempts)
        except Exception as exc:  # the broker is down: keep the rest for later
            log.warning("outbox relay: broker unavailable (%s); %d rows wait", exc, len(rows))
            break
        sent.append(row.id)
    if sent:
        now = clock.now()
        await OutboxMessage.filter(id__in=sent).update(
            dispatched_at=now, stale_at=now + timedelta(seconds=settings.outbox_redispatch_seconds)
        )
    return sent


async def relay_once(
    dispatcher: Dispatcher,
    *,
    batch: int = BATCH,
    settings: Settings | None = None,
    live: Publisher | None = None,
) -> int:
    """Dispatch up to `batch` waiting rows, then publish them to `live`; answer how many
    went out."""
    settings = settings or get_settings()

    async def claim_and_send() -> list[OutboxMessage]:
        query = OutboxMessage.filter(dispatched_at__isnull=True).order_by("id").limit(batch)
        if is_postgres():
            query = query.select_for_update(skip_locked=True)
        rows = list(await query)
        sent = set(await _hand_over(dispatcher, rows, settings))
        return [row for row in rows if row.id in sent]

    handed = await atomic(claim_and_send)
    if live is not None and handed:
        await _publish(live, handed)
    return len(handed)


async def _publish(live: Publisher, rows: list[OutboxMessage]) -> None:
    """Live events are best effort (subscribers re-read on reconnect, decision 30): a
    failure is logged, and the rows stay dispatched for mail."""
    try:
        await live.publish(await events_from_outbox(rows))
    except Exception as exc:
        log.warning("outbox relay: %d live events not published (%s)", len(rows), exc)


async def redispatch_stale(
    dispatcher: Dispatcher, settings: Settings, *, batch: int = BATCH
) -> int:
    """Hand over again rows dispatched but neither delivered nor failed for good whose
    `stale_at` has passed: nothing was heard of them for longer than their next retry can
    take (`workers.jobs.expect_retry`) plus OUTBOX_REDISPATCH_SECONDS, so the broker lost
    them. They keep their place in the retry schedule."""

    async def claim_and_send() -> int:
        query = (
            OutboxMessage.filter(
                delivered_at__isnull=True, failed_at__isnull=True, stale_at__lt=clock.now()
            )
            .order_by("stale_at")
            .limit(batch)
        )
        if is_postgres():
            query = query.select_for_update(skip_locked=True)
        stale = list(await query)
        if stale:
            log.warning("outbox relay: %d rows were lost by the broker; sending again", len(stale))
        return len(await _hand_over(dispatcher, stale, settings))

    return await atomic(claim_and_send)


async def run_relay(dispatcher: Dispatcher, stop: asyncio.Event, settings: Settings) -> None:
    """Relay until `stop` is set; a busy outbox is drained without waiting. Every
    OUTBOX_SWEEP_SECONDS it also looks for rows the broker lost. Each round also hands
    webhook deliveries over (`workers.webhook_relay`)."""
    next_sweep = time.monotonic()
    live = publisher(settings)
    while not stop.is_set():
        try:
            sent = await relay_once(dispatcher, settings=settings, live=live)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.outbox_sweep_seconds
                await redispatch_stale(dispatcher, settings)
            sent += await relay_webhooks(dispatcher, settings)
        except Exception:
            log.exception("outbox relay failed; retrying")
            sent = 0
        if sent < BATCH:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.outbox_poll_seconds)
    await live.close()
