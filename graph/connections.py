"""Relay connections with opaque keyset cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry
from tortoise.models import Model

from ledger.errors import InvalidInput
from ledger.ids import require_id
from ledger.pages import Page, PageRequest

T = TypeVar("T")
R = TypeVar("R", bound=Model)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"k:{row_id}".encode()).decode()


def decode_cursor(cursor: str | None, field: str = "after") -> int | None:
    if cursor is None:
        return None
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind != "k":
            raise ValueError(cursor)
        return require_id(value, field)
    except (ValueError, InvalidInput) as exc:
        raise InvalidInput(f"{field} is not a cursor from this list", field=[field]) from exc


def page_request(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest:
    """The page a connection's arguments ask for, cursors decoded."""
    return PageRequest(
        first=first,
        after=decode_cursor(after, "after"),
        last=last,
        before=decode_cursor(before, "before"),
    )


def to_connection(page: Page[R], build: Callable[[R], T]) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(int(row.pk)), node=build(row)) for row in page.items]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=page.total,
    )
