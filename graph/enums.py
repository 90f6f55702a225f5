"""GraphQL enums: the stored enums, registered with Strawberry under the contract's names."""

import strawberry

from ledger.errors import ErrorCode
from ledger.exports import Dataset as ExportDataset
from ledger.exports import Format as ExportFormat
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
strawberry.enum(ExportDataset, name="ExportDataset")
strawberry.enum(ExportFormat, name="ExportFormat")
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
]
