"""Notification intents, written in the transaction of the change that causes them."""

from __future__ import annotations

from typing import Any

from ledger import clock
from models import OutboxMessage


async def enqueue(kind: str, **payload: Any) -> OutboxMessage:
    return await OutboxMessage.create(kind=kind, payload=payload, created_at=clock.now())
