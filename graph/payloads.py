"""Mutation payloads, one per mutation (`<Mutation>Payload`): the result, and `errors`
that say what was refused (empty when it succeeded). Which codes a mutation can answer
is in its description; UNAUTHENTICATED and INTERNAL are never payload errors, they are
top-level errors of the response."""

from __future__ import annotations

import dataclasses
from typing import Any, Self, cast

import strawberry

from graph.types import Account, Course, Lot, Purchase, QuoteRequest, Redemption, UserError

ERRORS = "What was refused, with a code, a message and the input field; empty on success."


class Payload:
    """A mutation's answer: the result, in the payload's one field besides `errors`, or
    none and what was refused."""

    @classmethod
    def answer(cls, result: Any, errors: list[UserError]) -> Self:
        fields = dataclasses.fields(cast(Any, cls))  # a strawberry type is a dataclass
        (name,) = [f.name for f in fields if f.name != "errors"]
        return cls(**{name: result, "errors": errors})


@strawberry.type(description="What `createAccount` answers.")
class CreateAccountPayload(Payload):
    account: Account | None = strawberry.field(
        description="The account created, owned by the caller. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `updateAccount` answers.")
class UpdateAccountPayload(Payload):
    account: Account | None = strawberry.field(
        description="The account as it is now. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `addAccountOwner` answers.")
class AddAccountOwnerPayload(Payload):
    account: Account | None = strawberry.field(
        description="The account, with its new owner listed. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `removeAccountOwner` answers.")
class RemoveAccountOwnerPayload(Payload):
    account: Account | None = strawberry.field(
        description="The account, without the removed owner. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `rotateRedemptionCode` answers.")
class RotateRedemptionCodePayload(Payload):
    account: Account | None = strawberry.field(
        description="The account, showing its new code. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `purchaseCredits` answers.")
class PurchaseCreditsPayload(Payload):
    purchase: Purchase | None = strawberry.field(
        description="The purchase: PAID with its lot, when the card was charged. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `redeemCredits` answers.")
class RedeemCreditsPayload(Payload):
    redemption: Redemption | None = strawberry.field(
        description=(
            "The request: APPROVED at once, or PENDING an owner's decision. Null when refused."
        )
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `cancelRedemption` answers.")
class CancelRedemptionPayload(Payload):
    redemption: Redemption | None = strawberry.field(
        description="The request, now CANCELLED. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `upsertCourse` answers.")
class UpsertCoursePayload(Payload):
    course: Course | None = strawberry.field(
        description="The course as the catalogue now has it. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `deactivateCourse` answers.")
class DeactivateCoursePayload(Payload):
    course: Course | None = strawberry.field(
        description="The course, withdrawn. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `requestQuote` answers.")
class RequestQuotePayload(Payload):
    quote_request: QuoteRequest | None = strawberry.field(
        description="The quote request, OPEN until support fulfils it. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `cancelQuote` answers.")
class CancelQuotePayload(Payload):
    quote_request: QuoteRequest | None = strawberry.field(
        description="The quote request, CANCELLED. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `fulfilQuote` answers.")
class FulfilQuotePayload(Payload):
    quote_request: QuoteRequest | None = strawberry.field(
        description="The quote request, FULFILLED, with its paid purchase. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `extendLot` answers.")
class ExtendLotPayload(Payload):
    lot: Lot | None = strawberry.field(
        description="The lot with its new expiry. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `reverseRedemption` answers.")
class ReverseRedemptionPayload(Payload):
    redemption: Redemption | None = strawberry.field(
        description=(
            "The redemption, REVERSED; its credits are back in their lots. Null when refused."
        )
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="What `adjustCredits` answers.")
class AdjustCreditsPayload(Payload):
    account: Account | None = strawberry.field(
        description="The account, its balance changed. Null when refused."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


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
