"""Who may read or act on what: every access decision of the service, in one place.

Owners manage their own account and everything in it; support staff manage every
account and run the back office; a learner sees and cancels their own requests. Rules
call these functions before they touch an account's data, so none can be reached
without them. Another account's resource answers NOT_FOUND, exactly like one that does
not exist, so ids reveal nothing (decision 5); FORBIDDEN is for a role the caller lacks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from ledger import reads
from ledger.actors import Actor
from ledger.errors import Forbidden, NotFound
from models import (
    Account,
    AuditEvent,
    Course,
    LedgerEntry,
    Lot,
    Ownership,
    Purchase,
    QuoteRequest,
    Redemption,
    User,
    WebhookDelivery,
    WebhookEndpoint,
)

# How `may_see_draws` finds the account a user owns; GraphQL passes its per-request
# DataLoader, so a page of redemptions asks the database once.
OwnedAccountLookup = Callable[[int], Awaitable[int | None]]


def require_support(actor: Actor) -> None:
    """The back office (catalogue, quotes, lots, reversals, adjustments, all accounts)."""
    if not actor.is_support:
        raise Forbidden("only support staff may do this")


def sees_inactive_courses(actor: Actor) -> bool:
    """Withdrawn courses are listed to support staff only; learners cannot buy them."""
    return actor.is_support


async def owned_account_id(user_id: int) -> int | None:
    """The id of the account `user_id` owns, if any (a user owns at most one)."""
    ownership = await Ownership.get_or_none(user_id=user_id)
    return ownership.account_id if ownership else None


async def own_account(actor: Actor) -> Account | None:
    """The account the caller owns, if any (most requests ask: no ORM query builder)."""
    return await reads.first(
        Account,
        "o.user_id = %s",
        actor.user_id,
        join=f'JOIN "{Ownership._meta.db_table}" o ON o.account_id = t.id',
    )


async def _manages(actor: Actor, account_id: int) -> bool:
    if actor.is_support:
        return True
    return await Ownership.exists(user_id=actor.user_id, account_id=account_id)


async def account_for(actor: Actor, account_id: int | None) -> Account:
    """The account `actor` may manage: their own by default; any one for support staff.

    Another account's id answers NOT_FOUND, as if it did not exist.
    """
    if account_id is None:
        account = await own_account(actor)
        if account is None:
            raise NotFound("you do not own a training credits account", field=["accountId"])
        return account
    found = await Account.get_or_none(id=account_id)
    if found is None or not await _manages(actor, account_id):
        raise NotFound("no such account", field=["accountId"])
    return found


async def account_scope(actor: Actor, account_id: int | None) -> Account | None:
    """The account a list spans: None (every account) for support staff naming none,
    otherwise `account_for`'s answer."""
    if account_id is None and actor.is_support:
        return None
    return await account_for(actor, account_id)


# A row that belongs to one account (an audit event of the catalogue belongs to none).
Owned = TypeVar("Owned", Lot, QuoteRequest, Purchase, LedgerEntry, AuditEvent)


async def _owned_row(
    model: type[Owned], row_id: int, actor: Actor, what: str, field: str = "id"
) -> Owned:
    """The row of an account `actor` may manage; NOT_FOUND, as `no such <what>`, for a
    missing row and for another account's alike."""
    row = await model.get_or_none(id=row_id)
    if row is None or row.account_id is None or not await _manages(actor, row.account_id):
        raise NotFound(f"no such {what}", field=[field])
    return row


async def lot_for(actor: Actor, lot_id: int) -> Lot:
    """A lot of an account `actor` may manage; NOT_FOUND otherwise."""
    return await _owned_row(Lot, lot_id, actor, "lot", field="lotId")


async def quote_for(actor: Actor, quote_id: int) -> QuoteRequest:
    """A quote request of an account `actor` may manage; NOT_FOUND otherwise."""
    return await _owned_row(QuoteRequest, quote_id, actor, "quote request")


async def redemptions_for_owner(
    actor: Actor, redemption_ids: Iterable[int]
) -> dict[int, Redemption]:
    """Those of `redemption_ids` that `actor` may decide, by id: their own account's (any
    account's, for support staff). The rest are left out, as if they did not exist."""
    query = Redemption.filter(id__in=set(redemption_ids))
    if not actor.is_support:
        account_id = await owned_account_id(actor.user_id)
        if account_id is None:
            return {}
        query = query.filter(account_id=account_id)
    return {row.id: row for row in await query}


async def redemption_for_owner(actor: Actor, redemption_id: int) -> Redemption:
    """A redemption of an account `actor` may manage; NOT_FOUND otherwise."""
    found = await redemptions_for_owner(actor, [redemption_id])
    if redemption_id not in found:
        raise NotFound("no such redemption", field=["id"])
    return found[redemption_id]


async def redemption_for_learner(actor: Actor, redemption_id: int) -> Redemption:
    """A redemption `actor` requested as a learner; NOT_FOUND otherwise (owners included:
    only the learner withdraws a request)."""
    row = await Redemption.get_or_none(id=redemption_id, learner_id=actor.user_id)
    if row is None:
        raise NotFound("no such redemption of yours", field=["id"])
    return row


async def may_see_draws(
    actor: Actor | None,
    account_id: int,
    *,
    owned_account: OwnedAccountLookup = owned_account_id,
) -> bool:
    """Which lots paid for a redemption is its account's business: owners and support
    staff see the draws; the learner (who holds only the code) and anyone else do not.
    `account_id`: the redemption's account."""
    if actor is None:
        return False
    if actor.is_support:
        return True
    return await owned_account(actor.user_id) == account_id


# Reading one object by its id (`node`, `nodes`): the same rules as the lists that show it.


async def purchase_for(actor: Actor, purchase_id: int) -> Purchase:
    """A purchase of an account `actor` may manage; NOT_FOUND otherwise."""
    return await _owned_row(Purchase, purchase_id, actor, "purchase")


async def entry_for(actor: Actor, entry_id: int) -> LedgerEntry:
    """A ledger entry (a transaction) of an account `actor` may manage."""
    return await _owned_row(LedgerEntry, entry_id, actor, "transaction")


async def audit_event_for(actor: Actor, event_id: int) -> AuditEvent:
    """An audit event of an account `actor` may manage (none of the catalogue's)."""
    return await _owned_row(AuditEvent, event_id, actor, "audit event")


async def redemption_for_reader(actor: Actor, redemption_id: int) -> Redemption:
    """A redemption the caller may read: its account's owners, support, its learner."""
    row = await Redemption.get_or_none(id=redemption_id)
    if row is None or not (
        row.learner_id == actor.user_id or await _manages(actor, row.account_id)
    ):
        raise NotFound("no such redemption", field=["id"])
    return row


async def course_for(actor: Actor, course_id: int) -> Course:
    """A catalogue course: active ones for everyone signed in, withdrawn ones for support."""
    row = await Course.get_or_none(id=course_id)
    if row is None or not (row.active or sees_inactive_courses(actor)):
        raise NotFound("no such course", field=["id"])
    return row


async def user_for(actor: Actor, user_id: int) -> User:
    """A person the caller may see: themselves; for support, anyone; for a learner, who
    decided their requests; for an owner, everyone their account's data shows (co-owners,
    learners who asked it for credits, who decided those requests, who acted on its
    ledger or audit log). The same people the nested `User` fields answer."""
    row = await User.get_or_none(id=user_id)
    if row is None:
        raise NotFound("no such user", field=["id"])
    if user_id == actor.user_id or actor.is_support or await _shown_to(actor, user_id):
        return row
    raise NotFound("no such user", field=["id"])


async def _shown_to(actor: Actor, user_id: int) -> bool:
    if await Redemption.exists(learner_id=actor.user_id, decided_by_id=user_id):
        return True
    account_id = await owned_account_id(actor.user_id)
    if account_id is None:
        return False
    return (
        await Ownership.exists(user_id=user_id, account_id=account_id)
        or await Redemption.exists(learner_id=user_id, account_id=account_id)
        or await Redemption.exists(decided_by_id=user_id, account_id=account_id)
        or await LedgerEntry.exists(actor_id=user_id, account_id=account_id)
        or await AuditEvent.exists(actor_id=user_id, account_id=account_id)
    )


# Subscriptions (ledger.live): who may watch an account's live events.


async def watched_account(actor: Actor, account_id: int | None) -> Account:
    """The account whose requests, decisions and balance `actor` may follow live: the
    accounts they may manage (`account_for`: their own by default, any for support)."""
    return await account_for(actor, account_id)


async def may_watch(actor: Actor, account_id: int) -> bool:
    """Checked again before each event is delivered: an owner removed since subscribing
    sees nothing more of the account."""
    return await _manages(actor, account_id)


# Webhooks (ledger.webhooks): an account's endpoints and what was sent to them are its
# owners' and support's, like the rest of the account.


async def webhook_endpoint_for(
    actor: Actor, endpoint_id: int, field: str = "id"
) -> WebhookEndpoint:
    """A webhook endpoint of an account `actor` may manage; NOT_FOUND otherwise."""
    row = await WebhookEndpoint.get_or_none(id=endpoint_id)
    if row is None or not await _manages(actor, row.account_id):
        raise NotFound("no such webhook endpoint", field=[field])
    return row


async def webhook_delivery_for(
    actor: Actor, delivery_id: int, field: str = "id"
) -> WebhookDelivery:
    """A delivery to an endpoint of an account `actor` may manage; NOT_FOUND otherwise."""
    row = await WebhookDelivery.get_or_none(id=delivery_id).select_related("endpoint", "event")
    if row is None or not await _manages(actor, row.endpoint.account_id):
        raise NotFound("no such webhook delivery", field=[field])
    return row
