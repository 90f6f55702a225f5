"""Tortoise models. Each model's docstring states the invariants the database keeps."""

from models.accounts import Account, AuditEvent, Ownership
from models.enums import (
    ApprovalMode,
    EntryKind,
    LotStatus,
    PaymentMethod,
    PurchaseStatus,
    QuoteStatus,
    RedemptionStatus,
)
from models.ledger import (
    MAX_CREDITS_PER_PURCHASE,
    IdempotencyRecord,
    LedgerEntry,
    Lot,
    Purchase,
    QuoteRequest,
)
from models.outbox import EmailDelivery, JobLease, OutboxMessage, ReminderSent
from models.redemptions import Course, Draw, Redemption
from models.users import User
from models.webhooks import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "MAX_CREDITS_PER_PURCHASE",
    "Account",
    "ApprovalMode",
    "AuditEvent",
    "Course",
    "Draw",
    "EmailDelivery",
    "EntryKind",
    "IdempotencyRecord",
    "JobLease",
    "LedgerEntry",
    "Lot",
    "LotStatus",
    "OutboxMessage",
    "Ownership",
    "PaymentMethod",
    "Purchase",
    "PurchaseStatus",
    "QuoteRequest",
    "QuoteStatus",
    "Redemption",
    "RedemptionStatus",
    "ReminderSent",
    "User",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
]
