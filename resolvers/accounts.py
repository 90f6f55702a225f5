"""The viewer, and an account. (Changing accounts and owners: resolvers/mutations.py.)"""

from __future__ import annotations

from typing import Annotated

import strawberry

from graph.context import Info
from graph.types import Account, User, Viewer
from ledger import access
from resolvers.common import actor_of, parse_id, run_query


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
