"""GraphQL enums: the stored enums, registered with Strawberry under the contract's names."""

import strawberry

from ledger.errors import ErrorCode
from models.enums import (
    ApprovalMode,
    EntryKind,
    LotStatus,
    PurchaseStatus,
    QuoteStatus,
    RedemptionStatus,
)

for _enum in (ApprovalMode, LotStatus, PurchaseStatus, RedemptionStatus, QuoteStatus, ErrorCode):
    strawberry.enum(_enum)
strawberry.enum(EntryKind, name="TransactionKind")
TransactionKind = EntryKind

__all__ = [
    "ApprovalMode",
    "ErrorCode",
    "LotStatus",
    "PurchaseStatus",
    "QuoteStatus",
    "RedemptionStatus",
    "TransactionKind",
]
