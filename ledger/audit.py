"""The audit log: who changed what on an account, and why."""

from __future__ import annotations

from typing import Any

from ledger import clock
from ledger.actors import Actor
from models import AuditEvent


async def record(
    *,
    account_id: int | None,
    actor: Actor | None,
    action: str,
    reason: str | None = None,
    **details: Any,
) -> AuditEvent:
    return await AuditEvent.create(
        account_id=account_id,
        actor_id=actor.user_id if actor else None,
        action=action,
        details=details,
        reason=reason,
        created_at=clock.now(),
    )
