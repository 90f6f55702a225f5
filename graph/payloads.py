"""Mutation payloads: the result, and `errors` that say what was refused."""

from __future__ import annotations

import dataclasses
from typing import Any, Self, cast

import strawberry

from graph.types import Account, Course, Lot, Purchase, QuoteRequest, Redemption, UserError


class Payload:
    """A mutation's answer: the result, in the payload's one field besides `errors`, or
    none and what was refused."""

    @classmethod
    def answer(cls, result: Any, errors: list[UserError]) -> Self:
        fields = dataclasses.fields(cast(Any, cls))  # a strawberry type is a dataclass
        (name,) = [f.name for f in fields if f.name != "errors"]
        return cls(**{name: result, "errors": errors})


@strawberry.type
class AccountPayload(Payload):
    account: Account | None
    errors: list[UserError]


@strawberry.type
class PurchasePayload(Payload):
    purchase: Purchase | None
    errors: list[UserError]


@strawberry.type
class RedemptionPayload(Payload):
    redemption: Redemption | None
    errors: list[UserError]


@strawberry.type
class RedemptionsPayload:
    redemptions: list[Redemption]
    total_credits: int
    errors: list[UserError]


@strawberry.type
class CoursePayload(Payload):
    course: Course | None
    errors: list[UserError]


@strawberry.type
class QuoteRequestPayload(Payload):
    quote_request: QuoteRequest | None
    errors: list[UserError]


@strawberry.type
class LotPayload(Payload):
    lot: Lot | None
    errors: list[UserError]
