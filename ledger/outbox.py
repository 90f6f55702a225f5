"""Notification intents, written in the transaction of the change that causes them."""

from __future__ import annotations

from typing import Any

from ledger import clock
from models import OutboxMessage


async def enqueue(kind: str, **payload: Any) -> OutboxMessage:
    return await OutboxMessage.create(kind=kind, payload=payload, created_at=clock.now())


async def list_undelivered(*, limit: int) -> str:
    """What `credits outbox` prints: notifications not yet delivered, failed ones first."""
    failed = await OutboxMessage.filter(failed_at__isnull=False, delivered_at__isnull=True).count()
    waiting = await OutboxMessage.filter(failed_at__isnull=True, delivered_at__isnull=True).count()
    rows = (
        await OutboxMessage.filter(delivered_at__isnull=True)
        .order_by("-failed_at", "id")
        .limit(limit)
    )
    lines = [
        f"{failed} failed for good, {waiting} on their way: {failed + waiting} undelivered"
        f" (showing at most {limit})"
    ]
    for row in rows:
        state = "FAILED" if row.failed_at else "dispatched" if row.dispatched_at else "waiting"
        lines.append(
            f"{row.id:>8}  {row.kind:<22} {state:<10} attempts={row.attempts}  "
            f"{(row.last_error or '')[:120]}"
        )
    if failed:
        lines.append("`credits outbox --retry` sends the failed ones again")
    return "\n".join(lines)


async def retry_failed() -> int:
    """Queue every notification that failed for good again, with a fresh retry budget;
    recipients already emailed are still skipped. Answers how many."""
    return await OutboxMessage.filter(failed_at__isnull=False, delivered_at__isnull=True).update(
        failed_at=None, dispatched_at=None, attempts=0
    )
