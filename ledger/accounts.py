"""Accounts and their owners: creation, settings, owners and the redemption code."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError

from ledger import access, audit, clock, codes, outbox
from ledger.actors import Actor
from ledger.audit import AuditAction
from ledger.db import atomic, lock_account
from ledger.errors import AlreadyOwnsAccount, InvalidInput, LastOwner, NotFound
from ledger.events import OutboxKind
from ledger.text import clean_email, clean_text
from ledger.users import find_or_invite, normalise_email
from models import Account, ApprovalMode, Ownership, User, limits

EMAIL_RE = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_UNSET = object()


def _clean_name(name: str) -> str:
    return clean_text(name, "name", min_length=1, max_length=limits.ACCOUNT_NAME)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 0:
        raise InvalidInput("autoApproveLimit cannot be negative", field=["autoApproveLimit"])


async def create_account(
    *,
    actor: Actor,
    name: str | None,
    approval_mode: ApprovalMode,
    auto_approve_limit: int | None = None,
) -> Account:
    chosen = _clean_name(name if name and name.strip() else actor.user.name or actor.user.email)
    _check_limit(auto_approve_limit)
    if await Ownership.exists(user_id=actor.user_id):
        raise AlreadyOwnsAccount("you already own a training credits account")

    async def create() -> Account:
        now = clock.now()
        _, code_hash, ciphertext = codes.new_code()
        account = await Account.create(
            name=chosen,
            approval_mode=approval_mode,
            auto_approve_limit=auto_approve_limit,
            code_hash=code_hash,
            code_ciphertext=ciphertext,
            created_by_id=actor.user_id,
            created_at=now,
        )
        await Ownership.create(account=account, user_id=actor.user_id, created_at=now)
        await audit.record(
            AuditAction.ACCOUNT_CREATED,
            actor,
            account.id,
            name=chosen,
            approval_mode=approval_mode.value,
        )
        return account

    try:
        return await atomic(create)
    except IntegrityError as exc:
        if await Ownership.exists(user_id=actor.user_id):
            raise AlreadyOwnsAccount("you already own a training credits account") from exc
        raise


async def update_account(
    *,
    actor: Actor,
    account_id: int | None,
    name: str | None = None,
    approval_mode: ApprovalMode | None = None,
    auto_approve_limit: object = _UNSET,
) -> Account:
    """Change any of name, approval mode, auto-approve limit (None clears the limit)."""
    new_name = _clean_name(name) if name is not None else None
    if auto_approve_limit is not _UNSET:
        _check_limit(auto_approve_limit)  # type: ignore[arg-type]
    account = await access.account_for(actor, account_id)

    async def update() -> Account:
        locked = await lock_account(account.id)
        changes: dict[str, object] = {}
        if new_name is not None and new_name != locked.name:
            changes["name"] = [locked.name, new_name]
            locked.name = new_name
        if approval_mode is not None and approval_mode != locked.approval_mode:
            changes["approval_mode"] = [locked.approval_mode.value, approval_mode.value]
            locked.approval_mode = approval_mode
        if auto_approve_limit is not _UNSET and auto_approve_limit != locked.auto_approve_limit:
            changes["auto_approve_limit"] = [locked.auto_approve_limit, auto_approve_limit]
            locked.auto_approve_limit = auto_approve_limit  # type: ignore[assignment]
        if changes:
            await locked.save()
            await audit.record(AuditAction.ACCOUNT_UPDATED, actor, locked.id, changes=changes)
        return locked

    return await atomic(update)


async def owners_of(account_id: int) -> list[User]:
    return [
        o.user
        for o in await Ownership.filter(account_id=account_id).select_related("user").order_by("id")
    ]


async def add_owner(*, actor: Actor, account_id: int | None, email: str) -> Account:
    """Make `email` an owner at once, whether or not they have signed in yet."""
    email = clean_email(email, "email")
    if not EMAIL_RE.match(email):
        raise InvalidInput("that is not an email address", field=["email"])
    account = await access.account_for(actor, account_id)

    async def add() -> Account:
        locked = await lock_account(account.id)
        user = await _new_owner(locked, email)
        if user is None:
            return locked
        await Ownership.create(
            account=locked, user=user, added_by_id=actor.user_id, created_at=clock.now()
        )
        await audit.record(AuditAction.OWNER_ADDED, actor, locked.id, email=email)
        await outbox.enqueue(
            OutboxKind.OWNER_ADDED, account_id=locked.id, user_id=user.id, added_by_id=actor.user_id
        )
        return locked

    try:
        return await atomic(add)
    except IntegrityError:
        # A concurrent request invited or added the same person: decide again with
        # what it committed.
        pass
    try:
        return await atomic(add)
    except IntegrityError as exc:
        raise AlreadyOwnsAccount(
            f"{email} already owns a training credits account", field=["email"]
        ) from exc


async def _new_owner(account: Account, email: str) -> User | None:
    """The user `email` names (invited if need be), unless they own this account already
    (None); AlreadyOwnsAccount if they own another."""
    if await Ownership.exists(account_id=account.id, user__email=email):
        return None
    user = await find_or_invite(email)
    current = await Ownership.get_or_none(user_id=user.id)
    if current is None:
        return user
    if current.account_id == account.id:
        return None
    raise AlreadyOwnsAccount(
        f"{email} already owns another training credits account", field=["email"]
    )


async def remove_owner(*, actor: Actor, account_id: int | None, email: str) -> Account:
    """Remove any owner, the creator included, but never the last one.

    The account row is locked before counting, so two owners removing each other at
    once cannot leave the account without owners.
    """
    email = normalise_email(clean_text(email, "email", max_length=limits.EMAIL))
    account = await access.account_for(actor, account_id)

    async def remove() -> Account:
        locked = await lock_account(account.id)
        ownerships = await Ownership.filter(account_id=locked.id).select_related("user")
        target = next((o for o in ownerships if o.user.email == email), None)
        if target is None:
            raise NotFound(f"{email} is not an owner of this account", field=["email"])
        if len(ownerships) == 1:
            raise LastOwner("the last owner of an account cannot be removed", field=["email"])
        await target.delete()
        await audit.record(AuditAction.OWNER_REMOVED, actor, locked.id, email=email)
        return locked

    return await atomic(remove)


async def rotate_code(*, actor: Actor, account_id: int | None) -> Account:
    """Replace the redemption code; the old one stops working at once."""
    account = await access.account_for(actor, account_id)

    async def rotate() -> Account:
        locked = await lock_account(account.id)
        _, locked.code_hash, locked.code_ciphertext = codes.new_code()
        await locked.save(update_fields=["code_hash", "code_ciphertext"])
        await audit.record(AuditAction.CODE_ROTATED, actor, locked.id)
        await outbox.enqueue(OutboxKind.CODE_ROTATED, account_id=locked.id, actor_id=actor.user_id)
        return locked

    return await atomic(rotate)


def display_code(account: Account) -> str:
    return codes.decrypt_code(account.code_ciphertext)
