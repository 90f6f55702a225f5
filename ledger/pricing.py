"""Prices: volume tiers and promo codes are data; the rules below only read them.

All amounts are integer cents; 1 credit lists at 100 cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ledger.errors import InvalidInput, InvalidPromoCode
from models import MAX_CREDITS_PER_PURCHASE

LIST_PRICE_CENTS = 100


@dataclass(frozen=True)
class Discount:
    """`percent` off a purchase of at least `min_credits`: a volume tier's, or a promo's
    (which its `code` names)."""

    min_credits: int
    percent: int
    code: str | None = None


# Ordered by min_credits. 20,000 credits or more: 20 % off.
TIERS: tuple[Discount, ...] = (Discount(0, 0), Discount(20_000, 20))
PROMOS: dict[str, Discount] = {"twentyofftc": Discount(20_000, 20, code="twentyoffTC")}


@dataclass(frozen=True)
class Suggestion:
    credits: int
    amount_cents: int


@dataclass(frozen=True)
class Quote:
    credits: int
    unit_price_cents: int
    discount_percent: int
    list_amount_cents: int
    amount_cents: int
    promo_code: str | None
    suggestion: Suggestion | None


class Price(Protocol):
    """What a purchase or a quote request records of its price: a Quote, or a quote
    request's row when its invoice is paid."""

    @property
    def credits(self) -> int: ...
    @property
    def unit_price_cents(self) -> int: ...
    @property
    def discount_percent(self) -> int: ...
    @property
    def amount_cents(self) -> int: ...
    @property
    def promo_code(self) -> str | None: ...


def price_fields(price: Price) -> dict[str, Any]:
    """The price columns, as Purchase and QuoteRequest name them."""
    return {
        "credits": price.credits,
        "unit_price_cents": price.unit_price_cents,
        "discount_percent": price.discount_percent,
        "amount_cents": price.amount_cents,
        "promo_code": price.promo_code,
    }


def _tier_for(credits: int) -> Discount:
    return [t for t in TIERS if credits >= t.min_credits][-1]


def _unit_price(discount_percent: int) -> int:
    return LIST_PRICE_CENTS * (100 - discount_percent) // 100


def validate_credits(credits: int, field: str = "credits") -> None:
    if not 1 <= credits <= MAX_CREDITS_PER_PURCHASE:
        raise InvalidInput(
            f"credits must be between 1 and {MAX_CREDITS_PER_PURCHASE:,}", field=[field]
        )


def quote(credits: int, promo_code: str | None = None) -> Quote:
    """Price `credits`; a promo code never stacks with the volume tier."""
    validate_credits(credits)
    discount = _tier_for(credits).percent
    promo = None
    if promo_code is not None and promo_code.strip():
        promo = PROMOS.get(promo_code.strip().lower())
        if promo is None:
            raise InvalidPromoCode("this promo code does not exist", field=["promoCode"])
        if credits < promo.min_credits:
            raise InvalidPromoCode(
                f"{promo.code} applies to purchases of {promo.min_credits:,} credits or more",
                field=["promoCode"],
            )
        discount = max(discount, promo.percent)
    unit = _unit_price(discount)
    amount = credits * unit
    return Quote(
        credits=credits,
        unit_price_cents=unit,
        discount_percent=discount,
        list_amount_cents=credits * LIST_PRICE_CENTS,
        amount_cents=amount,
        promo_code=promo.code if promo else None,
        suggestion=_suggest(credits, amount),
    )


def _suggest(credits: int, amount_cents: int) -> Suggestion | None:
    """The smallest higher tier that costs no more than what was asked for."""
    for tier in TIERS:
        if tier.min_credits <= credits:
            continue
        tier_amount = tier.min_credits * _unit_price(tier.percent)
        if tier_amount <= amount_cents:
            return Suggestion(credits=tier.min_credits, amount_cents=tier_amount)
    return None
