"""The webhook half of the outbox relay (decision 31): committed outbox rows become
webhook events and deliveries, and the deliveries that are due go to the workers."""

from __future__ import annotations

import logging

from ledger import webhook_deliveries, webhook_events
from settings import Settings
from workers.dispatch import Dispatcher
from workers.jobs import JobName

log = logging.getLogger("credits.relay")
BATCH = 200


async def relay_webhooks(dispatcher: Dispatcher, settings: Settings) -> int:
    """Fan new outbox rows out, then hand due deliveries over; answer how many went."""
    await webhook_events.fan_out(batch=BATCH)
    sent: list[int] = []
    for delivery_id in await webhook_deliveries.due(limit=BATCH, settings=settings):
        try:
            await dispatcher.send(JobName.DELIVER_WEBHOOK, delivery_id)
        except Exception as exc:  # the broker is down: the rest wait for the next round
            log.warning("webhook relay: broker unavailable (%s)", exc)
            break
        sent.append(delivery_id)
    await webhook_deliveries.mark_dispatched(sent)
    return len(sent)
