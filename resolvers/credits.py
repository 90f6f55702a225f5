"""Prices, balance, lots and the ledger history. (Buying: resolvers/mutations.py.)"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from graph.arguments import (
    AccountId,
    LotStatusFilter,
    TransactionKindFilter,
    since,
    until,
)
from graph.connections import Connection, Paging
from graph.context import Info
from graph.types import Balance, Lot, PriceQuote, PriceSuggestion, Transaction
from ledger import balances, history, pricing
from ledger.errors import LedgerError
from resolvers.common import actor_of, list_page, parse_id, query_error, run_query


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


async def balance(info: Info, account_id: AccountId = None) -> Balance:
    value = await run_query(
        info,
        lambda actor: balances.balance(
            actor=actor, account_id=parse_id(account_id, "accountId", "Account")
        ),
    )
    return Balance.from_model(value)


async def lots(
    info: Info, account_id: AccountId = None, status: LotStatusFilter = None, *, paging: Paging
) -> Connection[Lot]:
    return await list_page(
        info, Lot, history.list_lots, paging, account_id=account_id, status=status
    )


async def transactions(
    info: Info,
    account_id: AccountId = None,
    kind: TransactionKindFilter = None,
    from_: Annotated[date | None, since("entries recorded")] = None,
    to: Annotated[date | None, until("entries recorded")] = None,
    *,
    paging: Paging,
) -> Connection[Transaction]:
    return await list_page(
        info,
        Transaction,
        history.list_transactions,
        paging,
        account_id=account_id,
        kind=kind,
        start=from_,
        end=to,
    )
