"""Emails about an account: purchases, owners, the redemption code, quotes."""

from __future__ import annotations

from ledger.accounts import display_code
from ledger.events import OutboxKind
from models import Account, Lot, OutboxMessage, Purchase, QuoteRequest, User
from notifications.emails import Email
from notifications.recipients import common_context, to_owners, to_user
from notifications.render import render_email
from settings import Settings


async def purchase_paid(message: OutboxMessage, settings: Settings) -> list[Email]:
    purchase = await Purchase.get(id=message.payload["purchase_id"])
    account = await Account.get(id=purchase.account_id)
    lot = await Lot.get(purchase_id=purchase.id)
    quote = await QuoteRequest.get_or_none(purchase_id=purchase.id)
    return await to_owners(
        account.id,
        "purchase_paid",
        kind=OutboxKind.PURCHASE_PAID,
        settings=settings,
        account=account,
        purchase=purchase,
        lot=lot,
        invoice_number=quote.invoice_number if quote else None,
        code=display_code(account),
    )


async def owner_added(message: OutboxMessage, settings: Settings) -> list[Email]:
    account = await Account.get(id=message.payload["account_id"])
    owner = await User.get(id=message.payload["user_id"])
    added_by_id = message.payload.get("added_by_id")
    added_by = await User.get_or_none(id=added_by_id) if added_by_id else None
    email = to_user(
        owner,
        "owner_added",
        kind=OutboxKind.OWNER_ADDED,
        settings=settings,
        account=account,
        owner=owner,
        added_by=added_by,
    )
    return [email] if email else []


async def code_rotated(message: OutboxMessage, settings: Settings) -> list[Email]:
    account = await Account.get(id=message.payload["account_id"])
    actor_id = message.payload.get("actor_id")
    actor = await User.get_or_none(id=actor_id) if actor_id else None
    # The code as it is now: if it was rotated again since, the newer one is what works.
    return await to_owners(
        account.id,
        "code_rotated",
        kind=OutboxKind.CODE_ROTATED,
        settings=settings,
        account=account,
        actor=actor,
        rotated_at=message.created_at,
        code=display_code(account),
    )


async def quote_requested(message: OutboxMessage, settings: Settings) -> list[Email]:
    quote = await QuoteRequest.get(id=message.payload["quote_id"])
    account = await Account.get(id=quote.account_id)
    requester = await User.get_or_none(id=quote.requested_by_id) if quote.requested_by_id else None
    return [
        render_email(
            "quote_requested",
            kind=OutboxKind.QUOTE_REQUESTED,
            to=settings.support_email,
            to_name="Training Credits support",
            reply_to=requester.email if requester and requester.email else None,
            account=account,
            quote=quote,
            requester=requester,
            **common_context(settings),
        )
    ]
