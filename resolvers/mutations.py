"""The mutations that only hand their input to one ledger rule, declared as data: each one's
payload, its rule, and the name the rule gives the object the input's `id` names (see
`Change`). Those with logic of their own (deciding redemptions in batches) stay with the
reads of their resolvers module."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.inputs import (
    AddAccountOwnerInput,
    AdjustCreditsInput,
    CancelQuoteInput,
    CancelRedemptionInput,
    CreateAccountInput,
    DeactivateCourseInput,
    ExtendLotInput,
    FulfilQuoteInput,
    PurchaseCreditsInput,
    RedeemCreditsInput,
    RemoveAccountOwnerInput,
    RequestQuoteInput,
    ReverseRedemptionInput,
    RotateRedemptionCodeInput,
    UpdateAccountInput,
    UpsertCourseInput,
)
from graph.payloads import (
    AddAccountOwnerPayload,
    AdjustCreditsPayload,
    CancelQuotePayload,
    CancelRedemptionPayload,
    CreateAccountPayload,
    DeactivateCoursePayload,
    ExtendLotPayload,
    FulfilQuotePayload,
    PurchaseCreditsPayload,
    RedeemCreditsPayload,
    RemoveAccountOwnerPayload,
    RequestQuotePayload,
    ReverseRedemptionPayload,
    RotateRedemptionCodePayload,
    UpdateAccountPayload,
    UpsertCoursePayload,
)
from ledger import accounts, courses, purchases, quotes, redemptions, support
from resolvers.common import Change

CREATE_ACCOUNT = Change(CreateAccountPayload, accounts.create_account)
UPDATE_ACCOUNT = Change(UpdateAccountPayload, accounts.update_account)
ADD_ACCOUNT_OWNER = Change(AddAccountOwnerPayload, accounts.add_owner)
REMOVE_ACCOUNT_OWNER = Change(RemoveAccountOwnerPayload, accounts.remove_owner)
ROTATE_REDEMPTION_CODE = Change(RotateRedemptionCodePayload, accounts.rotate_code)
PURCHASE_CREDITS = Change(PurchaseCreditsPayload, purchases.purchase_credits)
REDEEM_CREDITS = Change(
    RedeemCreditsPayload, redemptions.redeem_credits, from_context=("client_address",)
)
CANCEL_REDEMPTION = Change(CancelRedemptionPayload, redemptions.cancel_redemption, "redemption_id")
UPSERT_COURSE = Change(UpsertCoursePayload, courses.upsert_course)
DEACTIVATE_COURSE = Change(DeactivateCoursePayload, courses.set_course_active, "course_id")
REQUEST_QUOTE = Change(RequestQuotePayload, quotes.request_quote)
CANCEL_QUOTE = Change(CancelQuotePayload, quotes.cancel_quote, "quote_id")
FULFIL_QUOTE = Change(FulfilQuotePayload, quotes.fulfil_quote, "quote_id")
EXTEND_LOT = Change(ExtendLotPayload, support.extend_lot, "lot_id")
REVERSE_REDEMPTION = Change(ReverseRedemptionPayload, support.reverse_redemption, "redemption_id")
ADJUST_CREDITS = Change(AdjustCreditsPayload, support.adjust_credits)


async def create_account(
    info: Info,
    input: Annotated[
        CreateAccountInput,
        strawberry.argument(description="The new account's name and approval settings."),
    ],
) -> CreateAccountPayload:
    return await CREATE_ACCOUNT.run(info, input)


async def update_account(
    info: Info,
    input: Annotated[
        UpdateAccountInput,
        strawberry.argument(description="The account and the settings to change."),
    ],
) -> UpdateAccountPayload:
    return await UPDATE_ACCOUNT.run(info, input)


async def add_account_owner(
    info: Info,
    input: Annotated[
        AddAccountOwnerInput,
        strawberry.argument(description="The account and the new owner's email."),
    ],
) -> AddAccountOwnerPayload:
    return await ADD_ACCOUNT_OWNER.run(info, input)


async def remove_account_owner(
    info: Info,
    input: Annotated[
        RemoveAccountOwnerInput,
        strawberry.argument(description="The account and the owner's email."),
    ],
) -> RemoveAccountOwnerPayload:
    return await REMOVE_ACCOUNT_OWNER.run(info, input)


async def rotate_redemption_code(
    info: Info,
    input: Annotated[
        RotateRedemptionCodeInput | None,
        strawberry.argument(description="The account; left out, the caller's own."),
    ] = None,
) -> RotateRedemptionCodePayload:
    return await ROTATE_REDEMPTION_CODE.run(info, input or RotateRedemptionCodeInput())


async def purchase_credits(
    info: Info,
    input: Annotated[
        PurchaseCreditsInput,
        strawberry.argument(
            description="The account, how many credits, how to pay, and the idempotency key."
        ),
    ],
) -> PurchaseCreditsPayload:
    return await PURCHASE_CREDITS.run(info, input)


async def redeem_credits(
    info: Info,
    input: Annotated[
        RedeemCreditsInput,
        strawberry.argument(
            description="The account's redemption code, the course and the idempotency key."
        ),
    ],
) -> RedeemCreditsPayload:
    return await REDEEM_CREDITS.run(info, input)


async def cancel_redemption(
    info: Info,
    input: Annotated[
        CancelRedemptionInput,
        strawberry.argument(description="The caller's own pending redemption."),
    ],
) -> CancelRedemptionPayload:
    return await CANCEL_REDEMPTION.run(info, input)


async def upsert_course(
    info: Info,
    input: Annotated[
        UpsertCourseInput,
        strawberry.argument(description="The course, keyed by its SKU."),
    ],
) -> UpsertCoursePayload:
    return await UPSERT_COURSE.run(info, input)


async def deactivate_course(
    info: Info,
    input: Annotated[
        DeactivateCourseInput,
        strawberry.argument(description="The course to withdraw."),
    ],
) -> DeactivateCoursePayload:
    return await DEACTIVATE_COURSE.run(info, input, active=False)


async def request_quote(
    info: Info,
    input: Annotated[
        RequestQuoteInput,
        strawberry.argument(description="The account, how many credits, and a note."),
    ],
) -> RequestQuotePayload:
    return await REQUEST_QUOTE.run(info, input)


async def cancel_quote(
    info: Info,
    input: Annotated[
        CancelQuoteInput,
        strawberry.argument(description="The open quote request and why."),
    ],
) -> CancelQuotePayload:
    return await CANCEL_QUOTE.run(info, input)


async def fulfil_quote(
    info: Info,
    input: Annotated[
        FulfilQuoteInput,
        strawberry.argument(description="The open quote request and the invoice number."),
    ],
) -> FulfilQuotePayload:
    return await FULFIL_QUOTE.run(info, input)


async def extend_lot(
    info: Info,
    input: Annotated[
        ExtendLotInput,
        strawberry.argument(description="The lot, its new expiry and why."),
    ],
) -> ExtendLotPayload:
    return await EXTEND_LOT.run(info, input)


async def reverse_redemption(
    info: Info,
    input: Annotated[
        ReverseRedemptionInput,
        strawberry.argument(description="The approved redemption and why."),
    ],
) -> ReverseRedemptionPayload:
    return await REVERSE_REDEMPTION.run(info, input)


async def adjust_credits(
    info: Info,
    input: Annotated[
        AdjustCreditsInput,
        strawberry.argument(description="The account, the signed credits and why."),
    ],
) -> AdjustCreditsPayload:
    return await ADJUST_CREDITS.run(info, input)
