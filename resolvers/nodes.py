"""`node(id:)` and `nodes(ids:)`: any object by its global id, under the same access rules
as the query that lists it. An object the caller may not see answers null, exactly like
one that does not exist; an id that is not one of ours is INVALID_INPUT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from graph.context import Info
from graph.ids import from_global_id, split_global_id
from graph.types import (
    Account,
    AuditEvent,
    Course,
    Lot,
    Node,
    NodeType,
    Purchase,
    QuoteRequest,
    Redemption,
    Transaction,
    User,
)
from graph.webhooks import WebhookDelivery, WebhookEndpoint
from ledger import access
from ledger.actors import Actor
from ledger.errors import InvalidInput, NotFound
from resolvers.common import run_query

MAX_NODES = 100  # ids in one `nodes` field, and distinct objects read by id per request

Reader = Callable[[Actor, int], Awaitable[Any]]
# Each type's rule is looked up in ledger.access when it is called, as the rules call
# them (`access.<rule>`): bound here at import, a replaced rule (the access matrix's
# recorder) would not be the one that decides.
READERS: dict[str, tuple[Reader, type[NodeType]]] = {
    "Account": (lambda actor, pk: access.account_for(actor, pk), Account),
    "Lot": (lambda actor, pk: access.lot_for(actor, pk), Lot),
    "Purchase": (lambda actor, pk: access.purchase_for(actor, pk), Purchase),
    "Redemption": (lambda actor, pk: access.redemption_for_reader(actor, pk), Redemption),
    "Course": (lambda actor, pk: access.course_for(actor, pk), Course),
    "Transaction": (lambda actor, pk: access.entry_for(actor, pk), Transaction),
    "QuoteRequest": (lambda actor, pk: access.quote_for(actor, pk), QuoteRequest),
    "AuditEvent": (lambda actor, pk: access.audit_event_for(actor, pk), AuditEvent),
    "User": (lambda actor, pk: access.user_for(actor, pk), User),
    "WebhookEndpoint": (lambda actor, pk: access.webhook_endpoint_for(actor, pk), WebhookEndpoint),
    "WebhookDelivery": (lambda actor, pk: access.webhook_delivery_for(actor, pk), WebhookDelivery),
}


def _parse(value: strawberry.ID, field: str) -> tuple[str, int]:
    parts = split_global_id(value)
    if parts is None or parts[0] not in READERS:
        raise InvalidInput(f"{field} is not an id from this API", field=[field])
    return parts[0], from_global_id(value, field, parts[0])


async def _read(info: Info, actor: Actor, type_name: str, pk: int) -> Node | None:
    """One object by id, read at most once per request; at most MAX_NODES distinct ones a
    request (aliases could otherwise ask for thousands)."""
    seen = info.context.read_by_id
    if (type_name, pk) in seen:
        return seen[type_name, pk]  # type: ignore[no-any-return]
    if len(seen) >= MAX_NODES:
        raise InvalidInput(f"at most {MAX_NODES} objects by id per request", field=["ids"])
    read, node_type = READERS[type_name]
    try:
        found: Node | None = node_type.from_model(await read(actor, pk))
    except NotFound:
        found = None
    seen[type_name, pk] = found
    return found


async def node(
    info: Info,
    id: Annotated[
        strawberry.ID, strawberry.argument(description="Any object's global id (`Node.id`).")
    ],
) -> Node | None:
    async def call(actor: Actor) -> Node | None:
        return await _read(info, actor, *_parse(id, "id"))

    return await run_query(info, call)


async def nodes(
    info: Info,
    ids: Annotated[
        list[strawberry.ID],
        strawberry.argument(description="Global ids (`Node.id`) of any types, at most 100."),
    ],
) -> list[Node | None]:
    async def call(actor: Actor) -> list[Node | None]:
        if len(ids) > MAX_NODES:
            raise InvalidInput(f"at most {MAX_NODES} ids at once", field=["ids"])
        parsed = [_parse(value, "ids") for value in ids]
        return [await _read(info, actor, type_name, pk) for type_name, pk in parsed]

    return await run_query(info, call)
