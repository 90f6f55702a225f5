"""What every resolver needs: the caller, and ledger errors mapped to GraphQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from graphql import GraphQLError
from tortoise.models import Model

from graph.connections import Connection, to_connection
from graph.context import Info
from graph.ids import from_global_id
from graph.payloads import Payload
from graph.types import UserError
from ledger.actors import Actor
from ledger.errors import ErrorCode, LedgerError
from ledger.pages import Page

T = TypeVar("T")
R = TypeVar("R")
P = TypeVar("P", bound=Payload)
M = TypeVar("M", bound=Model)


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


def parse_id(value: strawberry.ID | str | None, field: str, type_name: str) -> int | None:
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


async def query_page(
    info: Info, build: Callable[[M], R], call: Callable[[Actor], Awaitable[Page[M]]]
) -> Connection[R]:
    """Read a page for the caller, as a connection of the rows built by `build`."""
    return to_connection(await run_query(info, call), build)


async def mutate(
    info: Info,
    payload: type[P],
    build: Callable[[T], R],
    call: Callable[[Actor], Awaitable[T]],
) -> P:
    """Run a change for the caller and answer its payload: the result built by `build`,
    or none and the ledger error as the payload's `errors`."""
    actor = await actor_of(info)
    try:
        value = await call(actor)
    except LedgerError as exc:
        return payload.answer(None, user_errors(exc))
    return payload.answer(build(value), [])
