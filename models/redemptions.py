from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from models import limits
from models.enums import RedemptionStatus

if TYPE_CHECKING:
    from models.accounts import Account
    from models.ledger import Lot
    from models.users import User


class Course(Model):
    """A catalogue course, keyed by SKU.

    Its price is what a redemption costs.
    """

    id = fields.IntField(primary_key=True)
    sku = fields.CharField(max_length=limits.COURSE_SKU, unique=True)
    title = fields.CharField(max_length=limits.COURSE_TITLE)
    price_credits = fields.IntField()
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "course"


class Redemption(Model):
    """A request by a learner to pay for a course with the credits of an account.

    PENDING → APPROVED | DENIED | CANCELLED; APPROVED → REVERSED. The price is fixed
    when requested. Credits leave the lots only on approval, recorded as draws.
    """

    id = fields.IntField(primary_key=True)
    account: fields.ForeignKeyRelation[Account] = fields.ForeignKeyField(
        "credits.Account", related_name="redemptions", on_delete=fields.RESTRICT
    )
    account_id: int
    learner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="redemptions", on_delete=fields.RESTRICT
    )
    learner_id: int
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "credits.Course", related_name="redemptions", on_delete=fields.RESTRICT
    )
    course_id: int
    credits = fields.IntField()
    status = fields.CharEnumField(RedemptionStatus, max_length=limits.ENUM_NAME)
    requested_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "credits.User", related_name="decisions", null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    reason = fields.TextField(null=True)

    class Meta:
        table = "redemption"
        indexes = [("account_id", "status", "id"), ("learner_id", "id"), ("account_id", "id")]


class Draw(Model):
    """Credits one approved redemption took from one lot."""

    id = fields.IntField(primary_key=True)
    redemption: fields.ForeignKeyRelation[Redemption] = fields.ForeignKeyField(
        "credits.Redemption", related_name="draws", on_delete=fields.RESTRICT
    )
    redemption_id: int
    lot: fields.ForeignKeyRelation[Lot] = fields.ForeignKeyField(
        "credits.Lot", related_name="draws", on_delete=fields.RESTRICT
    )
    lot_id: int
    credits = fields.IntField()

    class Meta:
        table = "draw"
        unique_together = [("redemption_id", "lot_id")]
