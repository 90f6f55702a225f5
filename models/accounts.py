from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from models import limits
from models.enums import ApprovalMode

if TYPE_CHECKING:
    from models.users import User


class Account(Model):
    """A training-credits account.

    The redemption code is never stored in clear: `code_hash` is an HMAC of the
    normalised code (unique, for lookup) and `code_ciphertext` an authenticated
    encryption of it (for display and email).
    """

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=limits.ACCOUNT_NAME)
    approval_mode = fields.CharEnumField(ApprovalMode, max_length=limits.ENUM_NAME)
    auto_approve_limit = fields.IntField(null=True)
    code_hash = fields.CharField(max_length=limits.DIGEST, unique=True)
    code_ciphertext = fields.TextField()
    saved_payment_method = fields.CharField(max_length=limits.PAYMENT_REFERENCE, null=True)
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="created_accounts", null=True, on_delete=fields.SET_NULL
    )
    created_by_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "account"


class Ownership(Model):
    """`user` owns `account`. UNIQUE(user): a user owns at most one account."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="ownerships", on_delete=fields.CASCADE
    )
    account_id: int
    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "credits.User", related_name="ownership", on_delete=fields.CASCADE
    )
    user_id: int
    added_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="owners_added", null=True, on_delete=fields.SET_NULL
    )
    added_by_id: int | None
    created_at = fields.DatetimeField()

    class Meta:
        table = "ownership"


class AuditEvent(Model):
    """Who did what to an account, and why. Append-only."""

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="audit_events", null=True, on_delete=fields.CASCADE
    )
    account_id: int | None
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="audit_events", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    action = fields.CharField(max_length=limits.KIND_NAME)
    details: Any = fields.JSONField(default=dict)
    reason = fields.TextField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "audit_event"
        indexes = [("account_id", "id")]
