"""A delivery's life: handed to the workers when due, one attempt at a time, retried
with exponential backoff for the retry window, then given up (decision 31).

The schedule lives in the database (`next_attempt_at`), not in the broker, so it is the
same with dramatiq on Redis and with the in-process workers, and survives restarts. An
attempt is claimed by raising `attempts` from the value read while the delivery is due:
a duplicate message finds it claimed (or not due) and does nothing. Its outcome is
recorded only by the attempt that claimed it. A delivery that fails for its whole window,
to an endpoint that has not succeeded since the window began, disables the endpoint and
emails the account's owners.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import Q

from ledger import clock, outbox
from ledger.db import atomic
from ledger.events import OutboxKind
from ledger.webhooks import decrypt_secret
from models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from settings import Settings

log = logging.getLogger("credits.webhooks")
MAX_RESPONSE_BYTES = 1024
MAX_ERROR_LENGTH = 1000
PENDING = WebhookDeliveryStatus.PENDING


@dataclass(frozen=True)
class Attempt:
    """One claimed attempt: everything the sender needs."""

    delivery_id: int
    number: int  # `attempts` after the claim
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: str


@dataclass(frozen=True)
class Outcome:
    """What an attempt got: the endpoint's status and the start of its answer, or an error
    (refused target, connection failure, timeout) before any answer."""

    status_code: int | None = None
    body: str | None = None
    error: str | None = None
    elapsed_ms: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """The wait after failed attempt number `attempt` (1-based): doubling from the minimum."""
    wait = settings.webhook_retry_min_backoff_seconds * 2 ** min(attempt - 1, 40)
    return float(min(wait, settings.webhook_retry_max_backoff_seconds))


async def due(*, limit: int, settings: Settings) -> list[int]:
    """Deliveries whose attempt is due and that are not with the workers already (or were
    handed over so long ago that the broker lost them), to enabled endpoints."""
    now = clock.now()
    lost = now - timedelta(seconds=settings.webhook_redispatch_seconds)
    ids = (
        await WebhookDelivery.filter(
            status=PENDING, next_attempt_at__lte=now, endpoint__disabled_at__isnull=True
        )
        .filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=lost))
        .order_by("next_attempt_at", "id")
        .limit(limit)
        .values_list("id", flat=True)
    )
    return [int(str(i)) for i in ids]


async def mark_dispatched(delivery_ids: list[int]) -> None:
    if delivery_ids:
        await WebhookDelivery.filter(id__in=delivery_ids).update(dispatched_at=clock.now())


async def claim(delivery_id: int, *, settings: Settings) -> Attempt | None:
    """Claim the delivery's due attempt; None when it is not due, done, claimed by another
    worker, or its endpoint is disabled or gone."""
    row = await WebhookDelivery.get_or_none(id=delivery_id).select_related("event", "endpoint")
    now = clock.now()
    if (
        row is None
        or row.status != PENDING
        or row.endpoint.disabled_at is not None
        or row.next_attempt_at is None
        or row.next_attempt_at > now
    ):
        return None
    # Until this attempt is recorded, the delivery counts as lost only after it could
    # have timed out and been handed over again.
    lease = settings.webhook_timeout_seconds + settings.webhook_redispatch_seconds
    claimed = await WebhookDelivery.filter(id=row.id, status=PENDING, attempts=row.attempts).update(
        attempts=row.attempts + 1,
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=lease),
    )
    if not claimed:
        return None
    return Attempt(
        delivery_id=row.id,
        number=row.attempts + 1,
        endpoint_id=row.endpoint_id,
        url=row.endpoint.url,
        secret=decrypt_secret(row.endpoint.secret),
        event_id=row.event.public_id,
        event_type=row.event.type,
        body=row.event.body,
    )


def _answer(outcome: Outcome) -> dict[str, object]:
    body = outcome.body
    if body is not None:
        body = body.encode()[:MAX_RESPONSE_BYTES].decode(errors="ignore")
    return {
        "response_status": outcome.status_code,
        "response_body": body,
        "response_ms": outcome.elapsed_ms,
        "last_error": outcome.error[:MAX_ERROR_LENGTH] if outcome.error else None,
    }


async def record(
    attempt: Attempt, outcome: Outcome, *, settings: Settings
) -> WebhookDeliveryStatus:
    """Record what the attempt got: SUCCEEDED, PENDING again (a retry is scheduled), or
    FAILED once the retry window is over."""
    now = clock.now()
    mine = WebhookDelivery.filter(id=attempt.delivery_id, attempts=attempt.number, status=PENDING)
    if outcome.ok:
        await mine.update(
            status=WebhookDeliveryStatus.SUCCEEDED,
            delivered_at=now,
            next_attempt_at=None,
            dispatched_at=None,
            **_answer(outcome),
        )
        await WebhookEndpoint.filter(id=attempt.endpoint_id).update(last_success_at=now)
        return WebhookDeliveryStatus.SUCCEEDED
    row = await WebhookDelivery.get_or_none(id=attempt.delivery_id)
    if row is None:
        return WebhookDeliveryStatus.FAILED
    retry_at = now + timedelta(seconds=backoff_seconds(attempt.number, settings))
    window_end = row.retry_from + timedelta(seconds=settings.webhook_retry_window_seconds)
    if retry_at <= window_end:
        await mine.update(next_attempt_at=retry_at, dispatched_at=None, **_answer(outcome))
        return PENDING

    async def give_up() -> None:
        if await mine.update(
            status=WebhookDeliveryStatus.FAILED,
            next_attempt_at=None,
            dispatched_at=None,
            **_answer(outcome),
        ):
            await _disable_if_failing(attempt.endpoint_id, row, now)

    await atomic(give_up)
    return WebhookDeliveryStatus.FAILED


async def _disable_if_failing(endpoint_id: int, delivery: WebhookDelivery, now: object) -> None:
    """The endpoint failed this delivery for its whole window and succeeded with none
    since the window began: disable it and email the owners (once)."""
    endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id)
    if endpoint is None or (
        endpoint.last_success_at is not None and endpoint.last_success_at >= delivery.retry_from
    ):
        return
    reason = (
        f"every attempt failed for {delivery.attempts} tries since "
        f"{delivery.retry_from.isoformat()}"
    )
    disabled = await WebhookEndpoint.filter(id=endpoint_id, disabled_at__isnull=True).update(
        disabled_at=now, disabled_reason=reason
    )
    if disabled:
        log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
        await outbox.enqueue(
            OutboxKind.WEBHOOK_ENDPOINT_DISABLED,
            account_id=endpoint.account_id,
            endpoint_id=endpoint_id,
        )
