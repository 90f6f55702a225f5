from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models import limits
from models.enums import EntryKind, PaymentMethod, PurchaseStatus, QuoteStatus

# Also a CHECK constraint (migration 0002): keep the two equal.
MAX_CREDITS_PER_PURCHASE = 10_000_000

if TYPE_CHECKING:
    from models.accounts import Account
    from models.redemptions import Redemption
    from models.users import User


class Purchase(Model):
    """An order for credits. Only a PAID purchase has a lot.

    Invariants: 0 < credits <= 10,000,000; amount_cents = credits * unit_price_cents.
    """

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="purchases", on_delete=fields.RESTRICT
    )
    account_id: int
    buyer: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="purchases", null=True, on_delete=fields.SET_NULL
    )
    buyer_id: int | None
    credits = fields.IntField()
    unit_price_cents = fields.IntField()
    discount_percent = fields.IntField()
    amount_cents = fields.BigIntField()
    promo_code = fields.CharField(max_length=limits.PROMO_CODE, null=True)
    method = fields.CharEnumField(PaymentMethod, max_length=limits.ENUM_NAME)
    status = fields.CharEnumField(PurchaseStatus, max_length=limits.ENUM_NAME)
    payment_reference = fields.CharField(max_length=limits.PAYMENT_REFERENCE, null=True)
    failure_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "purchase"
        indexes = [("account_id", "id")]


class Lot(Model):
    """Credits added by one paid purchase (or a positive adjustment).

    Invariants: 0 <= remaining <= credits; Σ ledger entries on the lot = remaining.
    Expired from the instant `expires_at <= now`, whether or not the expiry job ran.
    """

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="lots", on_delete=fields.RESTRICT
    )
    account_id: int
    purchase: fields.OneToOneNullableRelation[Purchase] = fields.OneToOneField(
        "credits.Purchase", related_name="lot", null=True, on_delete=fields.RESTRICT
    )
    purchase_id: int | None
    credits = fields.IntField()
    remaining = fields.IntField()
    purchased_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "lot"
        indexes = [("account_id", "expires_at"), ("expires_at", "id")]


class LedgerEntry(Model):
    """One immutable change of credits. Never updated, never deleted.

    `credits` is signed; its sign is fixed by `kind` (EXTENSION moves no credits and
    records the new `expires_at`). `balance_after` is the account's available balance
    once the entry is applied, and never negative.
    """

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="entries", on_delete=fields.RESTRICT
    )
    account_id: int
    lot: fields.ForeignKeyNullableRelation[Lot] = fields.ForeignKeyField(
        "credits.Lot", related_name="entries", null=True, on_delete=fields.RESTRICT
    )
    lot_id: int | None
    kind = fields.CharEnumField(EntryKind, max_length=limits.ENUM_NAME)
    credits = fields.IntField()
    balance_after = fields.IntField()
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="entries", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    reason = fields.TextField(null=True)
    reference = fields.CharField(max_length=limits.PAYMENT_REFERENCE, null=True)
    purchase: fields.ForeignKeyNullableRelation[Purchase] = fields.ForeignKeyField(
        "credits.Purchase", related_name="entries", null=True, on_delete=fields.RESTRICT
    )
    purchase_id: int | None
    redemption: fields.ForeignKeyNullableRelation[Redemption] = fields.ForeignKeyField(
        "credits.Redemption", related_name="entries", null=True, on_delete=fields.RESTRICT
    )
    redemption_id: int | None
    expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "ledger_entry"
        indexes = [("account_id", "id"), ("lot_id", "id")]


class QuoteRequest(Model):
    """A request by an owner to buy by invoice, priced when asked."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="quote_requests", on_delete=fields.RESTRICT
    )
    account_id: int
    requested_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="quote_requests", null=True, on_delete=fields.SET_NULL
    )
    requested_by_id: int | None
    credits = fields.IntField()
    unit_price_cents = fields.IntField()
    discount_percent = fields.IntField()
    amount_cents = fields.BigIntField()
    promo_code = fields.CharField(max_length=limits.PROMO_CODE, null=True)
    message = fields.TextField(default="")
    status = fields.CharEnumField(QuoteStatus, max_length=limits.ENUM_NAME)
    invoice_number = fields.CharField(max_length=limits.INVOICE_NUMBER, null=True)
    purchase: fields.OneToOneNullableRelation[Purchase] = fields.OneToOneField(
        "credits.Purchase", related_name="quote_request", null=True, on_delete=fields.RESTRICT
    )
    purchase_id: int | None
    cancel_reason = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)

    class Meta:
        table = "quote_request"
        indexes = [("status", "id"), ("account_id", "id")]


class IdempotencyRecord(Model):
    """The stored answer of a mutation, keyed by (user, operation, key).

    Written in the same transaction as the effect.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="idempotency_records", on_delete=fields.CASCADE
    )
    user_id: int
    operation = fields.CharField(max_length=limits.KIND_NAME)
    key = fields.CharField(max_length=limits.IDEMPOTENCY_KEY)
    request_hash = fields.CharField(max_length=limits.DIGEST)
    response: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_record"
        unique_together = [("user_id", "operation", "key")]
