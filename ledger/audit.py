"""The audit log: who changed what on an account, and why."""

from __future__ import annotations

from typing import Any

from ledger import access, clock
from ledger.actors import Actor
from ledger.pages import Page, newest_first
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


async def list_events(
    *, actor: Actor, account_id: int | None, first: int | None, after: int | None
) -> Page[AuditEvent]:
    account = await access.account_for(actor, account_id)
    return await newest_first(AuditEvent.filter(account_id=account.id), first=first, after=after)
