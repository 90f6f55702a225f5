"""The jobs the workers run: plain async functions, each given ids, each idempotent.

`credits worker` wraps them in dramatiq actors (`workers.worker`); `credits serve`
without REDIS_URL runs them on its own loop (`workers.dispatch.InProcessDispatcher`).
Both read the same retry policy from here, and neither holds a rule: each job calls
one function of `ledger/` or `workers.mail`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from ledger import clock, expiry
from models import OutboxMessage
from settings import Settings, get_settings
from workers import mail, webhooks

log = logging.getLogger("credits.jobs")


class JobName(StrEnum):
    DELIVER_NOTIFICATION = "deliver_notification"
    EXPIRE_LOTS = "expire_lots"
    SEND_EXPIRY_REMINDERS = "send_expiry_reminders"
    DELIVER_WEBHOOK = "deliver_webhook"


@dataclass(frozen=True)
class Job:
    """A job and its retry policy. `run` takes the job's ids, and `settings=` (the
    process's own when not given)."""

    name: JobName
    run: Callable[..., Awaitable[None]]
    queue: str
    max_retries: int
    min_backoff_ms: int
    max_backoff_ms: int
    time_limit_ms: int
    # Errors that retrying cannot mend: the job is not run again after one of them.
    permanent: tuple[type[Exception], ...] = ()

    def backoff_seconds(self, attempt: int) -> float:
        """The wait before retry number `attempt` (0-based), without dramatiq's jitter."""
        return float(min(self.min_backoff_ms * 2**attempt, self.max_backoff_ms)) / 1000

    def longest_wait_seconds(self, attempt: int) -> float:
        """The longest wait before retry number `attempt`: dramatiq's jitter doubles the
        backoff at most (and keeps it under the maximum)."""
        return float(min(2 * self.min_backoff_ms * 2**attempt, self.max_backoff_ms)) / 1000


async def deliver_notification(message_id: int, *, settings: Settings | None = None) -> None:
    """Email everyone an outbox message is for; recipients already emailed are skipped.

    After the last retry the row is marked failed (`credits outbox` lists it, and
    `credits outbox --retry` sends it again) instead of being dropped silently.
    """
    settings = settings or get_settings()
    try:
        await mail.deliver(message_id, settings=settings)
    except mail.DeliveryBusy:
        raise
    except mail.PermanentDeliveryError as exc:
        await mark_failed(message_id, str(exc))
        raise
    except Exception as exc:  # a refusal, an outage, a template or database fault
        row = await OutboxMessage.get_or_none(id=message_id)
        if row is None:
            raise
        if row.attempts > settings.mail_max_retries:
            await mark_failed(message_id, f"{type(exc).__name__}: {exc}")
            raise mail.PermanentDeliveryError(f"gave up after {row.attempts} attempts") from exc
        await expect_retry(row, settings)
        raise


async def expect_retry(row: OutboxMessage, settings: Settings) -> None:
    """After a failed attempt: the row counts as lost only once its retry is overdue."""
    job = registry(settings)[JobName.DELIVER_NOTIFICATION]
    wait = job.longest_wait_seconds(max(row.attempts - 1, 0))
    grace = settings.outbox_redispatch_seconds
    await OutboxMessage.filter(id=row.id).update(
        stale_at=clock.now() + timedelta(seconds=wait + grace)
    )


async def mark_failed(message_id: int, error: str) -> None:
    log.error("outbox message %s failed for good: %s", message_id, error)
    await OutboxMessage.filter(id=message_id, delivered_at__isnull=True).update(
        failed_at=clock.now(), last_error=error[: mail.MAX_ERROR_LENGTH]
    )


async def expire_lots(*, settings: Settings | None = None) -> None:
    """The nightly expiry job; running it twice expires nothing twice."""
    result = await expiry.expire_due_lots()
    log.info("expiry: %d lots, %d credits expired", result.lots, result.credits)


async def send_expiry_reminders(*, settings: Settings | None = None) -> None:
    """Queue the 90/30/7-day reminders; each lot and threshold only once."""
    result = await expiry.send_expiry_reminders()
    log.info("reminders: %d messages for %d lots", result.messages, result.lots)


HOUR_MS = 3_600_000


def registry(settings: Settings | None = None) -> dict[JobName, Job]:
    settings = settings or get_settings()
    nightly: dict[str, Any] = {
        "queue": "jobs",
        "max_retries": 3,
        "min_backoff_ms": 15_000,
        "max_backoff_ms": HOUR_MS,
        "time_limit_ms": HOUR_MS,
    }
    jobs = [
        Job(
            name=JobName.DELIVER_NOTIFICATION,
            run=deliver_notification,
            queue="mail",
            max_retries=settings.mail_max_retries,
            min_backoff_ms=settings.mail_retry_min_backoff_ms,
            max_backoff_ms=24 * HOUR_MS,
            time_limit_ms=10 * 60_000,
            permanent=(mail.PermanentDeliveryError,),
        ),
        Job(name=JobName.EXPIRE_LOTS, run=expire_lots, **nightly),
        Job(name=JobName.SEND_EXPIRY_REMINDERS, run=send_expiry_reminders, **nightly),
        # One attempt per message: the retry schedule of a delivery is in the database
        # (ledger.webhook_deliveries); these retries only cover a database hiccup.
        Job(
            name=JobName.DELIVER_WEBHOOK,
            run=webhooks.deliver_webhook,
            queue="webhooks",
            max_retries=2,
            min_backoff_ms=1_000,
            max_backoff_ms=60_000,
            time_limit_ms=2 * 60_000,
        ),
    ]
    return {job.name: job for job in jobs}
