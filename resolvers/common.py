"""What every resolver needs: the caller, and ledger errors mapped to GraphQL; and the
wiring of the resolvers that only hand their arguments to one ledger rule."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError

from graph.connections import Connection, Paging, to_connection
from graph.context import Info
from graph.ids import from_global_id
from graph.payloads import Payload
from graph.types import FromModel, UserError
from ledger.actors import Actor
from ledger.errors import ErrorCode, LedgerError
from ledger.pages import Page

T = TypeVar("T")
P = TypeVar("P", bound=Payload)
N = TypeVar("N", bound=FromModel)

# Arguments and input fields that hold another object's global id: the name they are
# reported under, and the type of the object. (An input's `id` names the object the
# mutation acts on: see `Change`.)
ID_ARGUMENTS = {
    "account_id": ("accountId", "Account"),
    "course_id": ("courseId", "Course"),
    "endpoint_id": ("endpointId", "WebhookEndpoint"),
    "delivery_id": ("deliveryId", "WebhookDelivery"),
}


class Unauthenticated(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": ErrorCode.UNAUTHENTICATED.value})


async def actor_of(info: Info) -> Actor:
    actor = await info.context.actor()
    if actor is None:
        raise Unauthenticated(info.context.auth_error or "sign in first")
    return actor


def user_errors(exc: LedgerError) -> list[UserError]:
    return [UserError(code=exc.code, message=exc.message, field=exc.field)]


def query_error(exc: LedgerError) -> GraphQLError:
    extensions: dict[str, object] = {"code": exc.code.value}
    if exc.field:
        extensions["field"] = exc.field
    return GraphQLError(exc.message, extensions=extensions)


def parse_id(value: object, field: str, type_name: str) -> int | None:
    """An optional id argument: None when not given, else the row id inside the global
    id of a `type_name` (INVALID_INPUT for anything else, a raw number included)."""
    if value is None or value is strawberry.UNSET:
        return None
    return from_global_id(value, field, type_name)


async def run_query(info: Info, call: Callable[[Actor], Awaitable[T]]) -> T:
    """Run a read for the caller; a ledger error becomes a top-level error with its code."""
    actor = await actor_of(info)
    try:
        return await call(actor)
    except LedgerError as exc:
        raise query_error(exc) from exc


async def list_page(
    info: Info,
    node: type[N],
    rule: Callable[..., Awaitable[Page[Any]]],
    paging: Paging,
    **filters: object,
) -> Connection[N]:
    """The page `paging` asks for of `rule`'s list for the caller, its rows built as
    `node`s; `filters` are the rule's other arguments, ids decoded once the caller is known."""

    def call(actor: Actor) -> Awaitable[Page[Any]]:
        return rule(actor=actor, **decoded_ids(filters), page=paging.request())

    return to_connection(await run_query(info, call), node.from_model)


def decoded_ids(arguments: dict[str, object]) -> dict[str, object]:
    """`ID_ARGUMENTS` as the row ids a ledger rule takes."""
    return {
        name: parse_id(value, *ID_ARGUMENTS[name]) if name in ID_ARGUMENTS else value
        for name, value in arguments.items()
    }


@dataclass(frozen=True)
class Change(Generic[P]):
    """A mutation that hands its input to one ledger rule: each input field given is the
    rule's keyword argument of that name (a field left out is not passed, so the rule's
    default holds), ids decoded; `id`, the object acted on, is passed as `id_as`; each name
    in `from_context` is passed as the request's value of that name (the GraphQL context's
    attribute, or the compiled path's `Env`'s). What the rule answers fills the payload."""

    payload: type[P]
    rule: Callable[..., Awaitable[object]]
    id_as: str | None = None
    from_context: tuple[str, ...] = ()

    async def run(self, info: Info, input: object, **fixed: object) -> P:
        """Answer the mutation for `input` (`fixed`: further arguments, passed as they are):
        the payload of the row the rule answers, or of the ledger error it raised."""
        actor = await actor_of(info)
        given = {
            name: value for name, value in vars(input).items() if value is not strawberry.UNSET
        }
        outcome = await self.outcome(actor, given, info.context, **fixed)
        if isinstance(outcome, LedgerError):
            return self.payload.refused(user_errors(outcome))
        return self.payload.made(outcome)

    async def outcome(
        self, actor: Actor, given: dict[str, object], request: object, **fixed: object
    ) -> object | LedgerError:
        """What the rule answers for the input fields `given` (by their Python names), or
        the ledger error it raised: the payload's content, for either executor. `request`
        holds the `from_context` values."""
        known = {name: getattr(request, name) for name in self.from_context}
        try:
            return await self.rule(actor=actor, **self._arguments(given), **known, **fixed)
        except LedgerError as exc:
            return exc

    def _arguments(self, given: dict[str, object]) -> dict[str, object]:
        arguments = decoded_ids(given)
        if self.id_as is not None:
            acted_on = self.payload.result_type().__name__
            arguments[self.id_as] = from_global_id(arguments.pop("id"), "id", acted_on)
        return arguments
