"""`node(id:)` and `nodes(ids:)`: any object by its global id, under the same access rules
as the query that lists it. An object the caller may not see answers null, exactly like
one that does not exist; an id that is not one of ours is INVALID_INPUT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from graph.context import Info
from graph.ids import from_global_id, split_global_id
from graph.types import (
    Account,
    AuditEvent,
    Course,
    Lot,
    Node,
    Purchase,
    QuoteRequest,
    Redemption,
    Transaction,
    User,
)
from ledger import access
from ledger.actors import Actor
from ledger.errors import InvalidInput, NotFound
from resolvers.common import run_query

MAX_NODES = 100

Reader = Callable[[Actor, int], Awaitable[Any]]
READERS: dict[str, tuple[Reader, Callable[[Any], Node]]] = {
    "Account": (access.account_for, Account.from_model),
    "Lot": (access.lot_for, Lot.from_model),
    "Purchase": (access.purchase_for, Purchase.from_model),
    "Redemption": (access.redemption_for_reader, Redemption.from_model),
    "Course": (access.course_for, Course.from_model),
    "Transaction": (access.entry_for, Transaction.from_model),
    "QuoteRequest": (access.quote_for, QuoteRequest.from_model),
    "AuditEvent": (access.audit_event_for, AuditEvent.from_model),
    "User": (access.user_for, User.from_model),
}


def _parse(value: strawberry.ID, field: str) -> tuple[str, int]:
    parts = split_global_id(value)
    if parts is None or parts[0] not in READERS:
        raise InvalidInput(f"{field} is not an id from this API", field=[field])
    return parts[0], from_global_id(value, field, parts[0])


async def _read(actor: Actor, type_name: str, pk: int) -> Node | None:
    read, build = READERS[type_name]
    try:
        return build(await read(actor, pk))
    except NotFound:
        return None


async def node(info: Info, id: strawberry.ID) -> Node | None:
    async def call(actor: Actor) -> Node | None:
        return await _read(actor, *_parse(id, "id"))

    return await run_query(info, call)


async def nodes(info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
    async def call(actor: Actor) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise InvalidInput(f"at most {MAX_NODES} ids at once", field=["ids"])
        parsed = [_parse(value, "ids") for value in ids]
        return [await _read(actor, type_name, pk) for type_name, pk in parsed]

    return await run_query(info, call)
