"""The audit log: who changed what on an account, and why."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from ledger import access, clock
from ledger.actors import Actor
from ledger.pages import Page, PageRequest, newest_first
from models import AuditEvent


class AuditAction(StrEnum):
    """What an audit event records, stored as its value (clients read `action`)."""

    ACCOUNT_CREATED = "account.created"
    ACCOUNT_UPDATED = "account.updated"
    OWNER_ADDED = "owner.added"
    OWNER_REMOVED = "owner.removed"
    OWNER_INVITATION_ACCEPTED = "owner.invitation_accepted"
    CODE_ROTATED = "code.rotated"
    QUOTE_REQUESTED = "quote.requested"
    QUOTE_FULFILLED = "quote.fulfilled"
    QUOTE_CANCELLED = "quote.cancelled"
    LOT_EXTENDED = "lot.extended"
    REDEMPTION_REVERSED = "redemption.reversed"
    CREDITS_ADJUSTED = "credits.adjusted"
    COURSE_UPSERTED = "course.upserted"
    COURSE_ACTIVE_SET = "course.active_set"


async def record(
    action: AuditAction,
    actor: Actor | None,
    account_id: int | None,
    *,
    reason: str | None = None,
    **details: Any,
) -> AuditEvent:
    """`actor` did `action` on the account `account_id` (None: on the catalogue);
    `details` say what changed."""
    return await AuditEvent.create(
        account_id=account_id,
        actor_id=actor.user_id if actor else None,
        action=action,
        details=details,
        reason=reason,
        created_at=clock.now(),
    )


async def list_events(
    *, actor: Actor, account_id: int | None, page: PageRequest
) -> Page[AuditEvent]:
    account = await access.account_for(actor, account_id)
    return await newest_first(AuditEvent.filter(account_id=account.id), page=page)
