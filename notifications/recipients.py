"""Who gets an email, and the context every template can use."""

from __future__ import annotations

from typing import Any

from ledger.accounts import owners_of
from models import User
from notifications import links
from notifications.emails import Email
from notifications.render import render_email, render_for_each
from settings import Settings


def common_context(settings: Settings) -> dict[str, Any]:
    return {"portal_url": links.portal(settings), "support_email": settings.support_email}


def to_user(
    user: User, template: str, *, kind: str, settings: Settings, **context: Any
) -> Email | None:
    """The email for one user; None for a user without an address."""
    if not user.email:
        return None
    return render_email(
        template,
        kind=kind,
        to=user.email,
        to_name=user.name,
        **common_context(settings),
        **context,
    )


async def to_owners(
    account_id: int, template: str, *, kind: str, settings: Settings, **context: Any
) -> list[Email]:
    """One email per owner of the account, invited owners (not yet signed in) included;
    the template is rendered once for all of them."""
    owners = [(owner.email, owner.name) for owner in await owners_of(account_id) if owner.email]
    return render_for_each(template, owners, kind=kind, **common_context(settings), **context)


def unique_recipients(emails: list[Email]) -> list[Email]:
    """The first email for each address: deliveries are recorded per address."""
    seen: set[str] = set()
    unique = []
    for email in emails:
        if email.recipient not in seen:
            seen.add(email.recipient)
            unique.append(email)
    return unique
