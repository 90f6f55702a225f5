"""Relay connections with opaque keyset cursors."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions import FieldExtension
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField
from tortoise.models import Model

from graph.arguments import After, Before, First, Last
from ledger.errors import InvalidInput
from ledger.ids import require_id
from ledger.pages import Page, PageRequest

T = TypeVar("T")
R = TypeVar("R", bound=Model)


@strawberry.type(
    description="Where a page lies in its list (which is newest first): the cursors to "
    "page on from, and whether more items lie on either side."
)
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether older items follow this page; read them with `after: "
        "endCursor`. Paging backward (`last`), true whenever `before` was given."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether newer items precede this page; read them with `last` and "
        "`before: startCursor`. Paging forward, true whenever `after` was given."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first (newest) item; null when the page is empty."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last (oldest) item; null when the page is empty."
    )


@strawberry.type(description="One item of a page, with the cursor that marks its place.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(
        description="Opaque; pass it as `after` for the items older than this one, or as "
        "`before` for the newer ones. Valid only for the list it came from."
    )
    node: T = strawberry.field(description="The item.")


@strawberry.type(
    description="One page of a list, newest first (a Relay connection), with the size of "
    "the whole list. Page forward with `first`/`after`, backward with `last`/`before`."
)
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(
        description="The page's items, newest first, each with its cursor."
    )
    page_info: PageInfo = strawberry.field(description="Cursors and whether more pages exist.")
    total_count: int = strawberry.field(
        description="How many items the whole list holds with the same filters, on all pages."
    )


@lru_cache(maxsize=65_536)
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


@dataclass(frozen=True)
class Paging:
    """A connection's paging arguments, as the client gave them."""

    first: int | None
    after: str | None
    last: int | None
    before: str | None

    def request(self) -> PageRequest:
        """The page they ask for, cursors decoded (INVALID_INPUT for one not of ours)."""
        return PageRequest(
            first=self.first,
            after=decode_cursor(self.after, "after"),
            last=self.last,
            before=decode_cursor(self.before, "before"),
        )


PAGING_ARGUMENTS = {"first": First, "after": After, "last": Last, "before": Before}


class Paged(FieldExtension):
    """A connection field's paging arguments, declared once: where its resolver takes
    `paging: Paging`, the field takes `first`, `after`, `last` and `before` (described in
    graph/arguments.py), and the resolver gets them back as one `Paging`."""

    def apply(self, field: StrawberryField) -> None:
        names = [argument.python_name for argument in field.arguments]
        if "paging" not in names:  # applied already, by a schema built before
            return
        at = names.index("paging")
        paging = [
            StrawberryArgument(name, None, StrawberryAnnotation(annotation), default=None)
            for name, annotation in PAGING_ARGUMENTS.items()
        ]
        field.arguments = [*field.arguments[:at], *paging, *field.arguments[at + 1 :]]

    def map_arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        given = [kwargs.pop(name, None) for name in PAGING_ARGUMENTS]
        return {**kwargs, "paging": Paging(*given)}


def connection(*, resolver: Callable[..., Any], description: str) -> Any:
    """A root field answering a `Connection`: `resolver` takes `paging: Paging`."""
    return strawberry.field(resolver=resolver, description=description, extensions=[Paged()])


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
