"""Accounts, owners, the redemption code, and the viewer."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.inputs import (
    AddAccountOwnerInput,
    CreateAccountInput,
    RemoveAccountOwnerInput,
    RotateRedemptionCodeInput,
    UpdateAccountInput,
)
from graph.payloads import (
    AddAccountOwnerPayload,
    CreateAccountPayload,
    RemoveAccountOwnerPayload,
    RotateRedemptionCodePayload,
    UpdateAccountPayload,
)
from graph.types import Account, User, Viewer
from ledger import access, accounts
from resolvers.common import actor_of, mutate, parse_id, run_query


async def viewer(info: Info) -> Viewer:
    actor = await actor_of(info)
    return Viewer(
        user=User.from_model(actor.user),
        is_support=actor.is_support,
        account_row=await access.own_account(actor),
    )


async def account(
    info: Info,
    id: Annotated[
        strawberry.ID | None,
        strawberry.argument(
            description="The account's global id; left out, the account the caller owns."
        ),
    ] = None,
) -> Account | None:
    row = await run_query(
        info, lambda actor: access.account_for(actor, parse_id(id, "id", "Account"))
    )
    return Account.from_model(row)


async def create_account(
    info: Info,
    input: Annotated[
        CreateAccountInput,
        strawberry.argument(description="The new account's name and approval settings."),
    ],
) -> CreateAccountPayload:
    return await mutate(
        info,
        CreateAccountPayload,
        Account.from_model,
        lambda actor: accounts.create_account(
            actor=actor,
            name=input.name,
            approval_mode=input.approval_mode,
            auto_approve_limit=input.auto_approve_limit,
        ),
    )


async def update_account(
    info: Info,
    input: Annotated[
        UpdateAccountInput,
        strawberry.argument(description="The account and the settings to change."),
    ],
) -> UpdateAccountPayload:
    def given(value: object) -> bool:
        return value is not strawberry.UNSET

    changes: dict[str, object] = {}
    if given(input.name) and input.name is not None:
        changes["name"] = input.name
    if given(input.approval_mode) and input.approval_mode is not None:
        changes["approval_mode"] = input.approval_mode
    if given(input.auto_approve_limit):
        changes["auto_approve_limit"] = input.auto_approve_limit
    return await mutate(
        info,
        UpdateAccountPayload,
        Account.from_model,
        lambda actor: accounts.update_account(
            actor=actor,
            account_id=parse_id(input.account_id, "accountId", "Account"),
            **changes,  # type: ignore[arg-type]
        ),
    )


async def add_account_owner(
    info: Info,
    input: Annotated[
        AddAccountOwnerInput,
        strawberry.argument(description="The account and the new owner's email."),
    ],
) -> AddAccountOwnerPayload:
    return await mutate(
        info,
        AddAccountOwnerPayload,
        Account.from_model,
        lambda actor: accounts.add_owner(
            actor=actor,
            account_id=parse_id(input.account_id, "accountId", "Account"),
            email=input.email,
        ),
    )


async def remove_account_owner(
    info: Info,
    input: Annotated[
        RemoveAccountOwnerInput,
        strawberry.argument(description="The account and the owner's email."),
    ],
) -> RemoveAccountOwnerPayload:
    return await mutate(
        info,
        RemoveAccountOwnerPayload,
        Account.from_model,
        lambda actor: accounts.remove_owner(
            actor=actor,
            account_id=parse_id(input.account_id, "accountId", "Account"),
            email=input.email,
        ),
    )


async def rotate_redemption_code(
    info: Info,
    input: Annotated[
        RotateRedemptionCodeInput | None,
        strawberry.argument(description="The account; left out, the caller's own."),
    ] = None,
) -> RotateRedemptionCodePayload:
    account_id = input.account_id if input else None
    return await mutate(
        info,
        RotateRedemptionCodePayload,
        Account.from_model,
        lambda actor: accounts.rotate_code(
            actor=actor, account_id=parse_id(account_id, "accountId", "Account")
        ),
    )
