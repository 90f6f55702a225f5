"""Outbox message kinds and their payloads (ids only; the mailer loads the rows).

Each kind's payload is a TypedDict below; `ledger.outbox.enqueue` refuses a payload whose
keys are not its kind's (`ledger.outbox.PAYLOADS`).

| kind                  | payload                                   |
|-----------------------|-------------------------------------------|
| purchase_paid         | account_id, purchase_id                   |
| owner_added           | account_id, user_id, added_by_id          |
| code_rotated          | account_id, actor_id                      |
| redemption_requested  | redemption_id   (PENDING: every owner)    |
| redemption_approved   | redemption_id   (learner + all owners)    |
| redemption_denied     | redemption_id   (learner)                 |
| redemption_cancelled  | redemption_id   (all owners)              |
| redemption_reversed   | redemption_id, reason (learner + owners)  |
| quote_requested       | quote_id        (support mailbox)         |
| lot_extended          | lot_id, entry_id (all owners)             |
| credits_expiring      | account_id, threshold_days, lot_ids       |
| credits_expired       | account_id, entry_ids                     |
| webhook_endpoint_disabled | account_id, endpoint_id (all owners)  |
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypedDict


class OutboxKind(StrEnum):
    PURCHASE_PAID = "purchase_paid"
    OWNER_ADDED = "owner_added"
    CODE_ROTATED = "code_rotated"
    REDEMPTION_REQUESTED = "redemption_requested"
    REDEMPTION_APPROVED = "redemption_approved"
    REDEMPTION_DENIED = "redemption_denied"
    REDEMPTION_CANCELLED = "redemption_cancelled"
    REDEMPTION_REVERSED = "redemption_reversed"
    QUOTE_REQUESTED = "quote_requested"
    LOT_EXTENDED = "lot_extended"
    CREDITS_EXPIRING = "credits_expiring"
    CREDITS_EXPIRED = "credits_expired"
    WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint_disabled"


class PurchasePaid(TypedDict):
    account_id: int
    purchase_id: int


class OwnerAdded(TypedDict):
    account_id: int
    user_id: int
    added_by_id: int


class CodeRotated(TypedDict):
    account_id: int
    actor_id: int


class RedemptionChanged(TypedDict):
    """Requested, approved, denied or cancelled."""

    redemption_id: int


class RedemptionReversed(TypedDict):
    redemption_id: int
    reason: str


class QuoteRequested(TypedDict):
    quote_id: int


class LotExtended(TypedDict):
    lot_id: int
    entry_id: int


class CreditsExpiring(TypedDict):
    account_id: int
    threshold_days: int
    lot_ids: list[int]


class CreditsExpired(TypedDict):
    account_id: int
    entry_ids: list[int]


class WebhookEndpointDisabled(TypedDict):
    account_id: int
    endpoint_id: int


Payload = (
    PurchasePaid
    | OwnerAdded
    | CodeRotated
    | RedemptionChanged
    | RedemptionReversed
    | QuoteRequested
    | LotExtended
    | CreditsExpiring
    | CreditsExpired
    | WebhookEndpointDisabled
)
