"""Enumerations stored in the database (as their names)."""

from enum import StrEnum


class ApprovalMode(StrEnum):
    AUTOMATIC = "AUTOMATIC"
    MANUAL = "MANUAL"


class PurchaseStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    FAILED = "FAILED"


class PaymentMethod(StrEnum):
    CARD = "CARD"
    INVOICE = "INVOICE"


class LotStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DEPLETED = "DEPLETED"
    EXPIRED = "EXPIRED"


class EntryKind(StrEnum):
    PURCHASE = "PURCHASE"
    REDEMPTION = "REDEMPTION"
    EXPIRY = "EXPIRY"
    REVERSAL = "REVERSAL"
    ADJUSTMENT = "ADJUSTMENT"
    EXTENSION = "EXTENSION"


class RedemptionStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    DENIED = "DENIED"
    CANCELLED = "CANCELLED"
    REVERSED = "REVERSED"


class QuoteStatus(StrEnum):
    OPEN = "OPEN"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"
