"""GraphQL enums. They share their values with the stored enums."""

import strawberry

from ledger.errors import ErrorCode as _ErrorCode
from models import enums

ApprovalMode = strawberry.enum(enums.ApprovalMode, name="ApprovalMode")
LotStatus = strawberry.enum(enums.LotStatus, name="LotStatus")
PurchaseStatus = strawberry.enum(enums.PurchaseStatus, name="PurchaseStatus")
RedemptionStatus = strawberry.enum(enums.RedemptionStatus, name="RedemptionStatus")
TransactionKind = strawberry.enum(enums.EntryKind, name="TransactionKind")
QuoteStatus = strawberry.enum(enums.QuoteStatus, name="QuoteStatus")
ErrorCode = strawberry.enum(_ErrorCode, name="ErrorCode")
