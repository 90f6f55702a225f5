"""Prices, purchases, balance, lots and the ledger history."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from graph.arguments import AccountId, After, Before, First, Last, since, until
from graph.connections import Connection, page_request
from graph.context import Info
from graph.enums import LotStatus, TransactionKind
from graph.inputs import PurchaseCreditsInput
from graph.payloads import (
    PurchaseCreditsPayload,
)
from graph.types import Balance, Lot, PriceQuote, PriceSuggestion, Purchase, Transaction
from ledger import balances, history, pricing, purchases
from ledger.errors import LedgerError
from resolvers.common import actor_of, mutate, parse_id, query_error, query_page, run_query


async def price_quote(
    info: Info,
    credits: Annotated[
        int, strawberry.argument(description="How many credits to price: 1 to 10,000,000.")
    ],
    promo_code: Annotated[
        str | None,
        strawberry.argument(
            description="A promo code, in any case (e.g. `twentyoffTC`); an unknown one, or "
            "one that does not apply to this many credits, is INVALID_PROMO_CODE."
        ),
    ] = None,
) -> PriceQuote:
    await actor_of(info)
    try:
        quote = pricing.quote(credits, promo_code)
    except LedgerError as exc:
        raise query_error(exc) from exc
    suggestion = PriceSuggestion.from_model(quote.suggestion) if quote.suggestion else None
    return PriceQuote.copied_from(quote, suggestion=suggestion)


async def purchase_credits(
    info: Info,
    input: Annotated[
        PurchaseCreditsInput,
        strawberry.argument(
            description="The account, how many credits, how to pay, and the idempotency key."
        ),
    ],
) -> PurchaseCreditsPayload:
    return await mutate(
        info,
        PurchaseCreditsPayload,
        Purchase.from_model,
        lambda actor: purchases.purchase_credits(
            actor=actor,
            account_id=parse_id(input.account_id, "accountId", "Account"),
            credits=input.credits,
            promo_code=input.promo_code,
            payment_token=input.payment_token,
            use_saved_payment_method=input.use_saved_payment_method,
            idempotency_key=input.idempotency_key,
        ),
    )


async def balance(info: Info, account_id: AccountId = None) -> Balance:
    value = await run_query(
        info,
        lambda actor: balances.balance(
            actor=actor, account_id=parse_id(account_id, "accountId", "Account")
        ),
    )
    return Balance.from_model(value)


async def lots(
    info: Info,
    account_id: AccountId = None,
    status: Annotated[
        LotStatus | None,
        strawberry.argument(description="Only lots in this state now; all when left out."),
    ] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[Lot]:
    return await query_page(
        info,
        Lot.from_model,
        lambda actor: history.list_lots(
            actor=actor,
            account_id=parse_id(account_id, "accountId", "Account"),
            status=status,
            page=page_request(first, after, last, before),
        ),
    )


async def transactions(
    info: Info,
    account_id: AccountId = None,
    kind: Annotated[
        TransactionKind | None,
        strawberry.argument(description="Only entries of this kind; all when left out."),
    ] = None,
    from_: Annotated[
        date | None, strawberry.argument(name="from", description=since("entries recorded"))
    ] = None,
    to: Annotated[date | None, strawberry.argument(description=until("entries recorded"))] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[Transaction]:
    return await query_page(
        info,
        Transaction.from_model,
        lambda actor: history.list_transactions(
            actor=actor,
            account_id=parse_id(account_id, "accountId", "Account"),
            kind=kind,
            start=from_,
            end=to,
            page=page_request(first, after, last, before),
        ),
    )
