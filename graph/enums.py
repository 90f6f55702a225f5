"""GraphQL enums: the stored enums, registered with Strawberry under the contract's names.

The Python enums live in `models` and `ledger`, which never import Strawberry, so their
members cannot be `strawberry.enum_value(...)`s. Each is registered with its description
here, and each value's description is set on the definition Strawberry built for it.
"""

from enum import Enum

import strawberry
from strawberry.types.enum import has_enum_definition

from ledger.errors import ErrorCode
from ledger.exports import Dataset as ExportDataset
from ledger.exports import Format as ExportFormat
from ledger.webhooks import WebhookEventType
from models.enums import (
    ApprovalMode,
    EntryKind,
    LotStatus,
    PurchaseStatus,
    QuoteStatus,
    RedemptionStatus,
)
from models.webhooks import WebhookDeliveryStatus


def _register(
    enum: type[Enum], description: str, values: dict[str, str], name: str | None = None
) -> None:
    """Register `enum` as a GraphQL enum with a description for it and for each value;
    every member must be described, and only members."""
    strawberry.enum(enum, name=name, description=description)
    if not has_enum_definition(enum):
        raise TypeError(f"{enum.__name__} was not registered as a GraphQL enum")
    definition = enum.__strawberry_definition__
    members = {value.name for value in definition.values}
    if members != set(values):
        raise ValueError(f"{definition.name}: describe exactly {sorted(members)}")
    for value in definition.values:
        value.description = values[value.name]


_register(
    ApprovalMode,
    "How an account's redemption requests are decided.",
    {
        "AUTOMATIC": "Approved at once when the available balance covers them; otherwise "
        "refused with INSUFFICIENT_CREDITS and nothing is recorded.",
        "MANUAL": "Kept PENDING until an owner approves or denies them; every owner is "
        "emailed. Requests within `autoApproveLimit` are decided as in AUTOMATIC.",
    },
)
_register(
    LotStatus,
    "Where a lot stands at this moment.",
    {
        "ACTIVE": "Not expired, with credits remaining.",
        "DEPLETED": "Not expired, but every credit has been spent.",
        "EXPIRED": "Past `expiresAt`: what remained can no longer be spent, from that "
        "instant on, whether or not the nightly job has written it off yet.",
    },
)
_register(
    PurchaseStatus,
    "Where a purchase's payment stands.",
    {
        "PENDING": "Payment not confirmed yet; no credits added.",
        "PAID": "Payment confirmed (card charged, or invoice paid); its lot has been added.",
        "FAILED": "The card was declined; no credits were added.",
    },
)
_register(
    RedemptionStatus,
    "Where a redemption request stands.",
    {
        "PENDING": "Waiting for an owner's decision; nothing drawn yet, counted in "
        "`Balance.pending`. The learner may still cancel it.",
        "APPROVED": "Approved (at once, or by an owner): its credits were drawn from the "
        "account's lots.",
        "DENIED": "Refused by an owner; nothing was drawn.",
        "CANCELLED": "Withdrawn by the learner while pending; nothing was drawn.",
        "REVERSED": "Refunded by support staff after approval: the credits went back to "
        "their lots, and expired again where a lot has expired since.",
    },
)
_register(
    QuoteStatus,
    "Where an invoice quote request stands.",
    {
        "OPEN": "Waiting for support staff to invoice it and record the payment.",
        "FULFILLED": "The invoice was paid: its purchase and lot were added.",
        "CANCELLED": "Withdrawn by an owner or support staff; nothing was bought.",
    },
)
_register(
    ErrorCode,
    "Why a request was refused: a mutation payload's `errors[].code`, or a top-level "
    "error's `extensions.code` (for query fields, and UNAUTHENTICATED or INTERNAL).",
    {
        "INVALID_INPUT": "An argument or input field is malformed or out of range; "
        "`field` names it.",
        "FORBIDDEN": "The caller lacks the role this needs (support staff only).",
        "NOT_FOUND": "No such object, or one the caller may not see (the two are not told "
        "apart); also when `accountId` is left out and the caller owns no account.",
        "ALREADY_OWNS_ACCOUNT": "The user already owns an account; a user owns at most one.",
        "LAST_OWNER": "The account's last owner cannot be removed.",
        "INVALID_CODE": "No account has this redemption code (a replaced code included).",
        "INSUFFICIENT_CREDITS": "The account's available balance does not cover it.",
        "NOT_PENDING": "The object is no longer in the state this needs: a redemption "
        "already decided (or, to reverse, not APPROVED), a quote no longer OPEN.",
        "PAYMENT_DECLINED": "The card was declined and nothing was bought; a new attempt "
        "needs a new idempotency key.",
        "INVALID_PROMO_CODE": "No such promo code, or it does not apply to this many credits.",
        "IDEMPOTENCY_CONFLICT": "This idempotency key was already used with other input.",
        "RATE_LIMITED": "Too many wrong redemption codes; try again later.",
        "COURSE_UNAVAILABLE": "The course has been withdrawn from the catalogue.",
        "UNAUTHENTICATED": "No valid bearer token. Always a top-level error, never in a payload.",
        "INTERNAL": "An unexpected failure on our side. Always a top-level error, with "
        "`extensions.requestId` to quote to support.",
    },
)
_register(
    EntryKind,
    "What caused a transaction (a ledger entry).",
    {
        "PURCHASE": "A paid purchase added its lot (positive).",
        "REDEMPTION": "An approved redemption drew credits from a lot (negative); one "
        "entry per lot drawn from.",
        "EXPIRY": "What remained on a lot when it expired was written off (negative).",
        "REVERSAL": "Support staff reversed a redemption, returning credits to a lot (positive).",
        "ADJUSTMENT": "Support staff added credits as a new lot (positive) or took some "
        "(negative), with a reason.",
        "EXTENSION": "Support staff moved a lot's expiry later (0 credits; `expiresAt` "
        "is the new expiry).",
    },
    name="TransactionKind",
)
_register(
    ExportDataset,
    "What an export holds.",
    {
        "TRANSACTIONS": "The account's transactions (ledger entries), one row each.",
        "REDEMPTIONS": "The account's redemption requests, one row each.",
    },
    name="ExportDataset",
)
_register(
    ExportFormat,
    "The file format of an export.",
    {
        "CSV": "Comma-separated values with a header row.",
        "XLSX": "An Excel workbook.",
    },
    name="ExportFormat",
)
_register(
    WebhookEventType,
    "What a webhook endpoint can be sent; its body's `type` is the name given with each value.",
    {
        "REDEMPTION_REQUESTED": "`redemption.requested`: a learner's request awaits an "
        "owner's decision (MANUAL mode).",
        "REDEMPTION_APPROVED": "`redemption.approved`: a request was approved, at once or "
        "by an owner; its credits were drawn.",
        "REDEMPTION_DENIED": "`redemption.denied`: an owner denied a request.",
        "REDEMPTION_CANCELLED": "`redemption.cancelled`: the learner withdrew a pending request.",
        "REDEMPTION_REVERSED": "`redemption.reversed`: support staff refunded an approved "
        "request; its credits went back to their lots.",
        "PURCHASE_PAID": "`purchase.paid`: a purchase was paid (card or invoice) and its "
        "lot added.",
        "LOT_EXPIRING": "`lot.expiring`: lots expire within 90, 30 or 7 days (the owners' "
        "reminders).",
        "LOT_EXPIRED": "`lot.expired`: what remained on lots expired.",
        "BALANCE_LOW": "`balance.low`: the available balance fell below the endpoint's "
        "`balanceLowThreshold`; sent once per fall.",
    },
)
_register(
    WebhookDeliveryStatus,
    "Where one event's delivery to one endpoint stands.",
    {
        "PENDING": "Not delivered yet: waiting for its first attempt or its next retry.",
        "SUCCEEDED": "The endpoint answered with a 2xx status.",
        "FAILED": "Every attempt failed for the whole retry window (3 days); "
        "`redeliverWebhook` tries again.",
    },
)
TransactionKind = EntryKind

__all__ = [
    "ApprovalMode",
    "ErrorCode",
    "ExportDataset",
    "ExportFormat",
    "LotStatus",
    "PurchaseStatus",
    "QuoteStatus",
    "RedemptionStatus",
    "TransactionKind",
    "WebhookDeliveryStatus",
    "WebhookEventType",
]
