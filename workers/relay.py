"""The outbox relay: hands committed notification rows to the workers, then marks them.

Rows are written in the transaction that caused them, so a rolled-back change never
reaches here. A row is marked dispatched only after the broker took it: when the broker
is down, rows wait and go out once it is back. On PostgreSQL several relays may run
(FOR UPDATE SKIP LOCKED); delivery is idempotent per recipient, so a row handed over
twice still emails nobody twice — which is what lets the sweeper hand a row over again
when the broker lost it (a Redis restart without persistence, a failover).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta

from ledger import clock
from ledger.db import atomic, is_postgres
from models import OutboxMessage
from settings import Settings
from workers.dispatch import Dispatcher
from workers.jobs import Job, JobName, registry

log = logging.getLogger("credits.relay")
BATCH = 200


async def _hand_over(dispatcher: Dispatcher, rows: list[OutboxMessage]) -> list[int]:
    """Send each row's delivery job until the broker refuses; the ids it took."""
    sent: list[int] = []
    for row in rows:
        try:
            await dispatcher.send(JobName.DELIVER_NOTIFICATION, row.id)
        except Exception as exc:  # the broker is down: keep the rest for later
            log.warning("outbox relay: broker unavailable (%s); %d rows wait", exc, len(rows))
            break
        sent.append(row.id)
    if sent:
        await OutboxMessage.filter(id__in=sent).update(dispatched_at=clock.now())
    return sent


async def relay_once(dispatcher: Dispatcher, *, batch: int = BATCH) -> int:
    """Dispatch up to `batch` waiting rows; answer how many went out."""

    async def claim_and_send() -> int:
        query = OutboxMessage.filter(dispatched_at__isnull=True).order_by("id").limit(batch)
        if is_postgres():
            query = query.select_for_update(skip_locked=True)
        return len(await _hand_over(dispatcher, list(await query)))

    return await atomic(claim_and_send)


def is_stale(row: OutboxMessage, job: Job, *, now: datetime, grace: timedelta) -> bool:
    """Nothing happened to a dispatched row for longer than its next retry should take."""
    if row.dispatched_at is None:
        return False
    last = max(row.dispatched_at, row.last_attempt_at or row.dispatched_at)
    waits = job.backoff_seconds(row.attempts - 1) if row.attempts else 0.0
    backoff = timedelta(seconds=waits)
    return last + backoff + grace < now


async def redispatch_stale(
    dispatcher: Dispatcher, settings: Settings, *, batch: int = BATCH
) -> int:
    """Hand over again rows dispatched but neither delivered nor failed for good, whose
    last hand-over or attempt is older than their retry backoff plus
    OUTBOX_REDISPATCH_SECONDS: the broker lost them."""
    job = registry(settings)[JobName.DELIVER_NOTIFICATION]
    grace = timedelta(seconds=settings.outbox_redispatch_seconds)

    async def claim_and_send() -> int:
        now = clock.now()
        query = (
            OutboxMessage.filter(
                delivered_at__isnull=True, failed_at__isnull=True, dispatched_at__lt=now - grace
            )
            .order_by("id")
            .limit(batch)
        )
        if is_postgres():
            query = query.select_for_update(skip_locked=True)
        stale = [row for row in await query if is_stale(row, job, now=now, grace=grace)]
        if stale:
            log.warning("outbox relay: %d rows were lost by the broker; sending again", len(stale))
        return len(await _hand_over(dispatcher, stale))

    return await atomic(claim_and_send)


async def run_relay(dispatcher: Dispatcher, stop: asyncio.Event, settings: Settings) -> None:
    """Relay until `stop` is set; a busy outbox is drained without waiting. Every
    OUTBOX_SWEEP_SECONDS it also looks for rows the broker lost."""
    next_sweep = time.monotonic()
    while not stop.is_set():
        try:
            sent = await relay_once(dispatcher)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.outbox_sweep_seconds
                await redispatch_stale(dispatcher, settings)
        except Exception:
            log.exception("outbox relay failed; retrying")
            sent = 0
        if sent < BATCH:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.outbox_poll_seconds)
