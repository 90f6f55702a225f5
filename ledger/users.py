"""Users come from verified tokens; an invited email is linked on first sign-in.

Only an email the identity provider verified links an invitation, is found by
`find_or_invite`, or replaces a stored email (decision 14). Anyone else with the same
address is a user of their own: a learner, or the owner of an account they create.
"""

from __future__ import annotations

from contextlib import suppress

from tortoise.exceptions import IntegrityError

from ledger import audit, clock, reads
from ledger.actors import Actor
from ledger.audit import AuditAction
from ledger.db import atomic, lock_account
from models import Ownership, User


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def sign_in(*, sub: str, email: str, name: str, email_verified: bool = True) -> User:
    """The user for a token's claims: found by `sub`, else an invitation linked, else new.

    `email_verified` defaults to true for the development tools and tests that call
    this directly; the request paths always pass the token's claim.
    """
    email = normalise_email(email)
    user = await reads.first(User, "t.sub = %s", sub)  # every request asks: no ORM builder
    if user is not None:
        return await _refresh(user, email=email, name=name, email_verified=email_verified)

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
            invited.email_verified = True
            await invited.save(update_fields=["sub", "name", "email_verified"])
            return invited
        return await User.create(
            sub=sub,
            email=email,
            email_verified=bool(email and email_verified),
            name=name,
            created_at=clock.now(),
        )

    try:
        return await atomic(link_or_create)
    except IntegrityError:
        # Two first requests from one new user at once: the other one created it.
        return await User.get(sub=sub)


async def _refresh(user: User, *, email: str, name: str, email_verified: bool) -> User:
    """Take a changed name, and a changed email only once it is verified."""
    changed = []
    newly_verified = bool(email and email_verified) and (
        user.email != email or not user.email_verified
    )
    if newly_verified:
        user.email = email
        user.email_verified = True
        changed += ["email", "email_verified"]
    if name and user.name != name:
        user.name = name
        changed.append("name")
    if changed:
        await user.save(update_fields=changed)
    if newly_verified:
        await _accept_invitation(user)
    return user


async def _accept_invitation(user: User) -> None:
    """Hand an invitation to `user`, who has just proved they hold its address.

    Someone invited while their email was unverified (or before the column existed) has
    a separate invitation. It becomes theirs if they own no account yet; otherwise it
    stays, listed, for another sign-in.
    """
    invited = await User.get_or_none(email=user.email, sub__isnull=True)
    ownership = await Ownership.get_or_none(user_id=invited.id) if invited else None
    if ownership is None or await Ownership.exists(user_id=user.id):
        return
    invitation: Ownership = ownership

    async def accept() -> None:
        await lock_account(invitation.account_id)
        moved = await Ownership.filter(id=invitation.id, user_id=invitation.user_id).update(
            user_id=user.id
        )
        if moved:
            await audit.record(
                AuditAction.OWNER_INVITATION_ACCEPTED,
                Actor(user=user),
                invitation.account_id,
                email=user.email,
            )

    # They may have created or received an account meanwhile: then the invitation stays.
    with suppress(IntegrityError):
        await atomic(accept)


async def find_or_invite(email: str) -> User:
    """The first signed-in user who verified this email, else its invitation (a new one
    if none). An unverified user with the same address is never the one found."""
    email = normalise_email(email)
    user = (
        await User.filter(email=email, email_verified=True, sub__isnull=False)
        .order_by("id")
        .first()
    )
    if user is None:
        user = await User.get_or_none(email=email, sub__isnull=True)
    if user is None:
        user = await User.create(sub=None, email=email, name="", created_at=clock.now())
    return user
