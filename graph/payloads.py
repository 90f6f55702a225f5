"""Mutation payloads, one per mutation (`<Mutation>Payload`): the result, and `errors`
that say what was refused (empty when it succeeded). Which codes a mutation can answer
is in its description; UNAUTHENTICATED and INTERNAL are never payload errors, they are
top-level errors of the response."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, ClassVar, Self, TypeVar

import strawberry

from graph.types import (
    Account,
    Course,
    FromModel,
    Lot,
    Purchase,
    QuoteRequest,
    Redemption,
    UserError,
)

ERRORS = "What was refused, with a code, a message and the input field; empty on success."


class Payload:
    """A mutation's answer: its result, in the one field `payload()` declares it with, or
    none and what was refused. The result field's type builds the result from a row."""

    result_name: ClassVar[str]

    @classmethod
    def made(cls, row: Any) -> Self:
        return cls(**{cls.result_name: cls.result_type().from_model(row), "errors": []})

    @classmethod
    def refused(cls, errors: list[UserError]) -> Self:
        return cls(**{cls.result_name: None, "errors": errors})

    @classmethod
    def result_type(cls) -> type[FromModel]:
        """The type of what the mutation changed (or made)."""
        return _result_type(cls)


_RESULT_TYPES: dict[type, type[FromModel]] = {}


def _result_type(cls: type[Payload]) -> type[FromModel]:
    """Found once per payload: resolving the annotations costs ~0.1 ms a mutation."""
    found = _RESULT_TYPES.get(cls)
    if found is None:
        hint = typing.get_type_hints(cls)[cls.result_name]
        (result,) = [t for t in typing.get_args(hint) if t is not type(None)]
        found = _RESULT_TYPES[cls] = typing.cast(type[FromModel], result)
    return found


P = TypeVar("P", bound=Payload)


def payload(mutation: str, result: str) -> Callable[[type[P]], type[P]]:
    """The payload type of `mutation`: the class's one annotated field is the result,
    described by `result` (and null when refused); `errors` follows it."""

    def declare(cls: type[P]) -> type[P]:
        (cls.result_name,) = cls.__annotations__
        cls.__annotations__["errors"] = "list[UserError]"
        fields = {
            cls.result_name: strawberry.field(description=f"{result} Null when refused."),
            "errors": strawberry.field(description=ERRORS),
        }
        for name, field in fields.items():
            setattr(cls, name, field)
        return strawberry.type(cls, description=f"What `{mutation}` answers.")

    return declare


@payload("createAccount", "The account created, owned by the caller.")
class CreateAccountPayload(Payload):
    account: Account | None


@payload("updateAccount", "The account as it is now.")
class UpdateAccountPayload(Payload):
    account: Account | None


@payload("addAccountOwner", "The account, with its new owner listed.")
class AddAccountOwnerPayload(Payload):
    account: Account | None


@payload("removeAccountOwner", "The account, without the removed owner.")
class RemoveAccountOwnerPayload(Payload):
    account: Account | None


@payload("rotateRedemptionCode", "The account, showing its new code.")
class RotateRedemptionCodePayload(Payload):
    account: Account | None


@payload("purchaseCredits", "The purchase: PAID with its lot, when the card was charged.")
class PurchaseCreditsPayload(Payload):
    purchase: Purchase | None


@payload("redeemCredits", "The request: APPROVED at once, or PENDING an owner's decision.")
class RedeemCreditsPayload(Payload):
    redemption: Redemption | None


@payload("cancelRedemption", "The request, now CANCELLED.")
class CancelRedemptionPayload(Payload):
    redemption: Redemption | None


@payload("upsertCourse", "The course as the catalogue now has it.")
class UpsertCoursePayload(Payload):
    course: Course | None


@payload("deactivateCourse", "The course, withdrawn.")
class DeactivateCoursePayload(Payload):
    course: Course | None


@payload("requestQuote", "The quote request, OPEN until support fulfils it.")
class RequestQuotePayload(Payload):
    quote_request: QuoteRequest | None


@payload("cancelQuote", "The quote request, CANCELLED.")
class CancelQuotePayload(Payload):
    quote_request: QuoteRequest | None


@payload("fulfilQuote", "The quote request, FULFILLED, with its paid purchase.")
class FulfilQuotePayload(Payload):
    quote_request: QuoteRequest | None


@payload("extendLot", "The lot with its new expiry.")
class ExtendLotPayload(Payload):
    lot: Lot | None


@payload("reverseRedemption", "The redemption, REVERSED; its credits are back in their lots.")
class ReverseRedemptionPayload(Payload):
    redemption: Redemption | None


@payload("adjustCredits", "The account, its balance changed.")
class AdjustCreditsPayload(Payload):
    account: Account | None


@strawberry.type(description="Redemptions decided together, each standing or failing alone.")
class DecisionsPayload:
    redemptions: list[Redemption] = strawberry.field(
        description="The redemptions decided, oldest request first."
    )
    total_credits: int = strawberry.field(
        description="Credits approved in this call (0 when denying)."
    )
    errors: list[UserError] = strawberry.field(
        description='One per refused id, its `field` naming it: `["ids", "<index>"]`.'
    )


@strawberry.type(description="What `approveRedemptions` answers.")
class ApproveRedemptionsPayload(DecisionsPayload):
    pass


@strawberry.type(description="What `denyRedemptions` answers.")
class DenyRedemptionsPayload(DecisionsPayload):
    pass
