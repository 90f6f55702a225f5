"""Mutation inputs, one per mutation (`<Mutation>Input`). Unset fields are
`strawberry.UNSET`; explicit nulls are None. Ids are global ids (`Node.id`): `id` names
the object the mutation acts on, `accountId` the account it is scoped to (the caller's
own when left out)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph.enums import ApprovalMode

ACCOUNT_ID = (
    "The account to act on (an `Account.id`); left out, the account the caller owns. "
    "Support staff name one."
)
IDEMPOTENCY_KEY = (
    "Chosen by the client, unique per attempt (a UUID): sending the same key again "
    "returns the first answer and changes nothing; the same key with other input is "
    "IDEMPOTENCY_CONFLICT. At most 255 characters."
)
REASON = (
    "Why, in a sentence (at most 1,000 characters); shown to the people concerned and kept "
    "in the audit log."
)


@strawberry.input(description="A new account, owned by the caller.")
class CreateAccountInput:
    name: str | None = strawberry.field(
        default=None, description="1 to 200 characters; left out, the caller's name."
    )
    approval_mode: ApprovalMode = strawberry.field(
        default=ApprovalMode.AUTOMATIC, description="How learners' requests are decided."
    )
    auto_approve_limit: int | None = strawberry.field(
        default=None,
        description="In MANUAL mode, requests of at most this many credits are approved at "
        "once; null: none are.",
    )


@strawberry.input(description="What to change on an account; fields left out stay as they are.")
class UpdateAccountInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description=("1 to 200 characters.")
    )
    approval_mode: ApprovalMode | None = strawberry.field(
        default=strawberry.UNSET, description="How learners' requests are decided from now on."
    )
    auto_approve_limit: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Redemptions of at most this many credits are approved at once in MANUAL "
        "mode; null clears it.",
    )


@strawberry.input(
    description="An owner to add, by email: an owner at once, even before they sign in."
)
class AddAccountOwnerInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)
    email: str = strawberry.field(description="Their email address (matched without case).")


@strawberry.input(description="An owner to remove, by email (the creator included).")
class RemoveAccountOwnerInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)
    email: str = strawberry.field(description="The owner's email address.")


@strawberry.input(description="The account whose redemption code is replaced.")
class RotateRedemptionCodeInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)


@strawberry.input(
    description="Credits to buy by card: give `paymentToken`, or `useSavedPaymentMethod` "
    "to repeat the last card purchase's method (a refill)."
)
class PurchaseCreditsInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)
    credits: int = strawberry.field(
        description="Whole credits, 1 to 10,000,000 (1 credit = 1 USD list price)."
    )
    promo_code: str | None = strawberry.field(
        default=None, description="`twentyoffTC`: 20 % off, valid from 20,000 credits."
    )
    payment_token: str | None = strawberry.field(
        default=None,
        description="The card's token from the payment gateway (sandbox: `tok_visa`, "
        "`tok_chargeDeclined`).",
    )
    use_saved_payment_method: bool = strawberry.field(
        default=False, description="Charge the method of the account's last card purchase."
    )
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.input(description="A learner's checkout: the account's code pays for a course.")
class RedeemCreditsInput:
    code: str = strawberry.field(
        description="The account's redemption code, as the learner typed it (case, spaces "
        "and dashes are ignored)."
    )
    course_id: strawberry.ID = strawberry.field(description="The `Course.id` being bought.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY)


@strawberry.input(description="Pending redemptions to approve, decided oldest first.")
class ApproveRedemptionsInput:
    ids: list[strawberry.ID] = strawberry.field(
        description="`Redemption.id`s (at most 100); each stands or fails alone."
    )


@strawberry.input(description="Pending redemptions to deny.")
class DenyRedemptionsInput:
    ids: list[strawberry.ID] = strawberry.field(
        description="`Redemption.id`s (at most 100); each stands or fails alone."
    )
    reason: str | None = strawberry.field(
        default=None, description="Told to the learner; at most 1,000 characters."
    )


@strawberry.input(description="The learner's own pending request to withdraw.")
class CancelRedemptionInput:
    id: strawberry.ID = strawberry.field(description="The `Redemption.id`.")


@strawberry.input(description="A catalogue course, created or updated by its SKU.")
class UpsertCourseInput:
    sku: str = strawberry.field(description="The catalogue's key; 1 to 64 characters.")
    title: str = strawberry.field(description="1 to 300 characters.")
    price_credits: int = strawberry.field(description="What a redemption costs, in credits.")
    active: bool | None = strawberry.field(
        default=None, description="False withdraws it; left out, unchanged (new: active)."
    )


@strawberry.input(description="A course to withdraw from the catalogue.")
class DeactivateCourseInput:
    id: strawberry.ID = strawberry.field(description="The `Course.id`.")


@strawberry.input(description="An invoice quote to ask support for.")
class RequestQuoteInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description=ACCOUNT_ID)
    credits: int = strawberry.field(description="Whole credits, 1 to 10,000,000.")
    message: str = strawberry.field(
        default="", description="For the support team; at most 2,000 characters."
    )
    promo_code: str | None = strawberry.field(
        default=None, description="`twentyoffTC`: 20 % off, valid from 20,000 credits."
    )


@strawberry.input(description="An open quote request to cancel.")
class CancelQuoteInput:
    id: strawberry.ID = strawberry.field(description="The `QuoteRequest.id`.")
    reason: str = strawberry.field(description=REASON)


@strawberry.input(description="An open quote request whose invoice was paid.")
class FulfilQuoteInput:
    id: strawberry.ID = strawberry.field(description="The `QuoteRequest.id`.")
    invoice_number: str = strawberry.field(description="The paid invoice's number.")


@strawberry.input(description="A lot whose expiry support staff move, case by case.")
class ExtendLotInput:
    id: strawberry.ID = strawberry.field(description="The `Lot.id`.")
    expires_at: datetime = strawberry.field(
        description="The new expiry (ISO 8601 with a time zone), later than the current one "
        "and at most five years ahead."
    )
    reason: str = strawberry.field(description=REASON)


@strawberry.input(description="An approved redemption to refund (support).")
class ReverseRedemptionInput:
    id: strawberry.ID = strawberry.field(description="The `Redemption.id`.")
    reason: str = strawberry.field(description=REASON)


@strawberry.input(description="Credits support staff add to or take from an account.")
class AdjustCreditsInput:
    account_id: strawberry.ID = strawberry.field(description="The `Account.id`.")
    credits: int = strawberry.field(
        description="Positive: a new lot expiring in a year; negative: taken from the lots "
        "in draw order. Not zero."
    )
    reason: str = strawberry.field(description=REASON)
