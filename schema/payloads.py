"""Mutation payloads: the result, and `errors` that say what was refused."""

from __future__ import annotations

import strawberry

from schema.types import Account, Purchase, UserError


@strawberry.type
class AccountPayload:
    account: Account | None
    errors: list[UserError]


@strawberry.type
class PurchasePayload:
    purchase: Purchase | None
    errors: list[UserError]
