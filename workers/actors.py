"""Actors: thin, idempotent, given ids. Each calls one function that holds the rules."""

from __future__ import annotations

import logging

import dramatiq

from ledger import expiry
from settings import get_settings
from workers import mail
from workers.broker import broker

_settings = get_settings()
log = logging.getLogger("credits.jobs")


@dramatiq.actor(
    broker=broker,
    queue_name="mail",
    max_retries=_settings.mail_max_retries,
    min_backoff=_settings.mail_retry_min_backoff_ms,
    max_backoff=24 * 3600 * 1000,
    throws=(mail.PermanentDeliveryError,),
)
async def deliver_notification(message_id: int) -> None:
    """Email everyone an outbox message is for; recipients already emailed are skipped."""
    await mail.deliver(message_id)


@dramatiq.actor(broker=broker, queue_name="jobs", max_retries=3, time_limit=3_600_000)
async def expire_lots() -> None:
    """The nightly expiry job; running it twice expires nothing twice."""
    result = await expiry.expire_due_lots()
    log.info("expiry: %d lots, %d credits expired", result.lots, result.credits)


@dramatiq.actor(broker=broker, queue_name="jobs", max_retries=3, time_limit=3_600_000)
async def send_expiry_reminders() -> None:
    """Queue the 90/30/7-day reminders; each lot and threshold only once."""
    result = await expiry.send_expiry_reminders()
    log.info("reminders: %d messages for %d lots", result.messages, result.lots)


ACTORS = {a.actor_name: a for a in (deliver_notification, expire_lots, send_expiry_reminders)}
