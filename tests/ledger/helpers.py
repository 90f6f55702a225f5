"""Ledger calls as the ledger tests make them: a person signed in, a redemption made with
the account's code."""

from __future__ import annotations

from ledger.accounts import display_code
from ledger.actors import Actor
from ledger.redemptions import redeem_credits
from ledger.users import sign_in
from models import Account, Course, Redemption


async def person(email: str, *, support: bool = False) -> Actor:
    """`email` signed in (their name is their email), as support staff if `support`."""
    return Actor(user=await sign_in(sub=email, email=email, name=email), is_support=support)


async def redeem(learner: Actor, account: Account, course: Course, key: str) -> Redemption:
    """`learner` redeems for `course` with the account's code, under idempotency `key`."""
    return await redeem_credits(
        actor=learner, code=display_code(account), course_id=course.id, idempotency_key=key
    )
