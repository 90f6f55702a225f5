"""The outbox relay: hands committed notification rows to the workers, then marks them.

Rows are written in the transaction that caused them, so a rolled-back change never
reaches here. A row is marked dispatched only after the broker took it: when the broker
is down, rows wait and go out once it is back. On PostgreSQL several relays may run
(FOR UPDATE SKIP LOCKED); delivery is idempotent per recipient, so a row handed over
twice still emails nobody twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ledger import clock
from ledger.db import atomic, is_postgres
from models import OutboxMessage
from workers.dispatch import Dispatcher

log = logging.getLogger("credits.relay")
BATCH = 200


async def relay_once(dispatcher: Dispatcher, *, batch: int = BATCH) -> int:
    """Dispatch up to `batch` waiting rows; answer how many went out."""

    async def claim_and_send() -> int:
        query = OutboxMessage.filter(dispatched_at__isnull=True).order_by("id").limit(batch)
        if is_postgres():
            query = query.select_for_update(skip_locked=True)
        sent: list[int] = []
        for row in await query:
            try:
                await dispatcher.send("deliver_notification", row.id)
            except Exception as exc:  # the broker is down: keep the rest for later
                log.warning("outbox relay: broker unavailable (%s); %d rows wait", exc, len(sent))
                break
            sent.append(row.id)
        if sent:
            await OutboxMessage.filter(id__in=sent).update(dispatched_at=clock.now())
        return len(sent)

    return await atomic(claim_and_send)


async def run_relay(dispatcher: Dispatcher, stop: asyncio.Event, interval: float) -> None:
    """Relay until `stop` is set; a busy outbox is drained without waiting."""
    while not stop.is_set():
        try:
            sent = await relay_once(dispatcher)
        except Exception:
            log.exception("outbox relay failed; retrying")
            sent = 0
        if sent < BATCH:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
