"""Buying by invoice: an owner asks for a quote; support staff fulfil it once paid."""

from __future__ import annotations

from typing import Any

from ledger import access, audit, clock, outbox, pricing
from ledger.actors import Actor
from ledger.audit import AuditAction
from ledger.db import atomic, lock_account
from ledger.errors import NotFound, NotPending
from ledger.events import OutboxKind
from ledger.pages import Page, PageRequest, newest_first
from ledger.purchases import mark_paid, open_purchase
from ledger.text import clean_reason, clean_text
from models import (
    PaymentMethod,
    QuoteRequest,
    QuoteStatus,
    limits,
)


async def request_quote(
    *,
    actor: Actor,
    account_id: int | None,
    credits: int,
    message: str,
    promo_code: str | None = None,
) -> QuoteRequest:
    quote = pricing.quote(credits, promo_code)
    message = clean_text(message, "message", max_length=limits.QUOTE_MESSAGE, multiline=True)
    account = await access.account_for(actor, account_id)

    async def create() -> QuoteRequest:
        row = await QuoteRequest.create(
            account=account,
            requested_by_id=actor.user_id,
            **pricing.price_fields(quote),
            message=message,
            status=QuoteStatus.OPEN,
            created_at=clock.now(),
        )
        await _record(
            AuditAction.QUOTE_REQUESTED,
            actor,
            row,
            credits=credits,
            amount_cents=quote.amount_cents,
        )
        await outbox.enqueue(OutboxKind.QUOTE_REQUESTED, quote_id=row.id)
        return row

    return await atomic(create)


async def _record(action: AuditAction, actor: Actor, quote: QuoteRequest, **details: Any) -> None:
    """A quote's audit event: on its account, naming the quote."""
    await audit.record(action, actor, quote.account_id, quote_id=quote.id, **details)


async def _open_quote(quote_id: int) -> QuoteRequest:
    quote = await QuoteRequest.select_for_update().get_or_none(id=quote_id)
    if quote is None:
        raise NotFound("no such quote request", field=["id"])
    if quote.status is not QuoteStatus.OPEN:
        raise NotPending(
            f"this quote request is already {quote.status.value.lower()}", field=["id"]
        )
    return quote


async def fulfil_quote(*, actor: Actor, quote_id: int, invoice_number: str) -> QuoteRequest:
    """The invoice is paid: the purchase, its lot and the confirmation, once only."""
    access.require_support(actor)
    invoice_number = clean_text(
        invoice_number, "invoiceNumber", min_length=1, max_length=limits.INVOICE_NUMBER
    )
    row = await access.quote_for(actor, quote_id)

    async def fulfil() -> QuoteRequest:
        await lock_account(row.account_id)
        quote = await _open_quote(quote_id)
        purchase = await open_purchase(
            account_id=quote.account_id,
            buyer_id=quote.requested_by_id,
            price=quote,
            method=PaymentMethod.INVOICE,
        )
        await mark_paid(purchase, actor_id=actor.user_id, reference=invoice_number)
        quote.status, quote.invoice_number = QuoteStatus.FULFILLED, invoice_number
        quote.purchase_id, quote.decided_at = purchase.id, clock.now()
        await quote.save()
        await _record(AuditAction.QUOTE_FULFILLED, actor, quote, invoice_number=invoice_number)
        return quote

    return await atomic(fulfil)


async def cancel_quote(*, actor: Actor, quote_id: int, reason: str) -> QuoteRequest:
    row = await access.quote_for(actor, quote_id)
    why = clean_reason(reason)

    async def cancel() -> QuoteRequest:
        await lock_account(row.account_id)
        quote = await _open_quote(quote_id)
        quote.status, quote.cancel_reason, quote.decided_at = (
            QuoteStatus.CANCELLED,
            why,
            clock.now(),
        )
        await quote.save(update_fields=["status", "cancel_reason", "decided_at"])
        await _record(AuditAction.QUOTE_CANCELLED, actor, quote, reason=why)
        return quote

    return await atomic(cancel)


async def list_quotes(
    *, actor: Actor, account_id: int | None, status: QuoteStatus | None, page: PageRequest
) -> Page[QuoteRequest]:
    """Support staff see every account's (or one's); owners see their own."""
    query = QuoteRequest.all()
    account = await access.account_scope(actor, account_id)
    if account is not None:
        query = query.filter(account_id=account.id)
    if status is not None:
        query = query.filter(status=status)
    return await newest_first(query, page=page)
