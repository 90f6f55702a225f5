"""Mutation payloads: the result, and `errors` that say what was refused."""

from __future__ import annotations

import strawberry

from graph.types import Account, Course, Lot, Purchase, QuoteRequest, Redemption, UserError


@strawberry.type
class AccountPayload:
    account: Account | None
    errors: list[UserError]


@strawberry.type
class PurchasePayload:
    purchase: Purchase | None
    errors: list[UserError]


@strawberry.type
class RedemptionPayload:
    redemption: Redemption | None
    errors: list[UserError]


@strawberry.type
class RedemptionsPayload:
    redemptions: list[Redemption]
    total_credits: int
    errors: list[UserError]


@strawberry.type
class CoursePayload:
    course: Course | None
    errors: list[UserError]


@strawberry.type
class QuoteRequestPayload:
    quote_request: QuoteRequest | None
    errors: list[UserError]


@strawberry.type
class LotPayload:
    lot: Lot | None
    errors: list[UserError]
