"""Mutation inputs. Unset fields are `strawberry.UNSET`; explicit nulls are None."""

from __future__ import annotations

from datetime import datetime

import strawberry

from graph.enums import ApprovalMode


@strawberry.input
class CreateAccountInput:
    name: str | None = None
    approval_mode: ApprovalMode = ApprovalMode.AUTOMATIC
    auto_approve_limit: int | None = None


@strawberry.input
class UpdateAccountInput:
    account_id: strawberry.ID | None = None
    name: str | None = strawberry.UNSET
    approval_mode: ApprovalMode | None = strawberry.UNSET
    auto_approve_limit: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Redemptions of at most this many credits are approved at once in MANUAL "
        "mode; null clears it.",
    )


@strawberry.input
class OwnerInput:
    account_id: strawberry.ID | None = None
    email: str


@strawberry.input
class AccountRefInput:
    account_id: strawberry.ID | None = None


@strawberry.input
class PurchaseCreditsInput:
    account_id: strawberry.ID | None = None
    credits: int
    promo_code: str | None = None
    payment_token: str | None = None
    use_saved_payment_method: bool = False
    idempotency_key: str


@strawberry.input
class RedeemCreditsInput:
    code: str
    course_id: strawberry.ID
    idempotency_key: str


@strawberry.input
class RedemptionIdsInput:
    ids: list[strawberry.ID]


@strawberry.input
class DenyRedemptionsInput:
    ids: list[strawberry.ID]
    reason: str | None = None


@strawberry.input
class RedemptionIdInput:
    id: strawberry.ID


@strawberry.input
class CourseInput:
    sku: str
    title: str
    price_credits: int
    active: bool | None = None


@strawberry.input
class CourseRefInput:
    id: strawberry.ID


@strawberry.input
class RequestQuoteInput:
    account_id: strawberry.ID | None = None
    credits: int
    message: str = ""
    promo_code: str | None = None


@strawberry.input
class CancelQuoteInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class FulfilQuoteInput:
    id: strawberry.ID
    invoice_number: str


@strawberry.input
class ExtendLotInput:
    lot_id: strawberry.ID
    expires_at: datetime
    reason: str


@strawberry.input
class ReverseRedemptionInput:
    id: strawberry.ID
    reason: str


@strawberry.input
class AdjustCreditsInput:
    account_id: strawberry.ID
    credits: int
    reason: str
