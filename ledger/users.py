"""Users come from verified tokens; an invited email is linked on first sign-in."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from ledger import clock
from ledger.db import atomic
from models import User


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def sign_in(*, sub: str, email: str, name: str, email_verified: bool = True) -> User:
    """The user for a token's claims: found by `sub`, else an invitation linked, else new."""
    email = normalise_email(email)
    user = await User.get_or_none(sub=sub)
    if user is not None:
        changed = []
        if email and user.email != email:
            user.email = email
            changed.append("email")
        if name and user.name != name:
            user.name = name
            changed.append("name")
        if changed:
            await user.save(update_fields=changed)
        return user

    async def link_or_create() -> User:
        invited = None
        if email and email_verified:
            invited = (
                await User.filter(email=email, sub__isnull=True)
                .select_for_update()
                .order_by("id")
                .first()
            )
        if invited is not None:
            invited.sub = sub
            invited.name = name or invited.name
            await invited.save(update_fields=["sub", "name"])
            return invited
        return await User.create(sub=sub, email=email, name=name, created_at=clock.now())

    try:
        return await atomic(link_or_create)
    except IntegrityError:
        # Two first requests from one new user at once: the other one created it.
        return await User.get(sub=sub)


async def find_or_invite(email: str) -> User:
    """The user with this email (a signed-in one first), or a new invitation."""
    email = normalise_email(email)
    user = await User.filter(email=email).order_by("sub", "id").first()
    if user is None:
        user = await User.create(sub=None, email=email, name="", created_at=clock.now())
    return user
