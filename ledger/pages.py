"""Keyset pages, newest first: `after` is the id of the last row already seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from ledger.errors import InvalidInput

M = TypeVar("M", bound=Model)
DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    has_next: bool
    total: int


EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def check_date(value: date | None, field: str) -> date | None:
    """Dates from clients stay in a range the database and date arithmetic can hold."""
    if value is not None and not EARLIEST <= value <= LATEST:
        raise InvalidInput(f"{field} must be between {EARLIEST} and {LATEST}", field=[field])
    return value


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be between 0 and {MAX_PAGE}", field=["first"])
    return first


async def newest_first(
    query: QuerySet[M], *, first: int | None, after: int | None, related: tuple[str, ...] = ()
) -> Page[M]:
    """A page of `query`, newest first; `related` rows are joined into the page's query."""
    size = page_size(first)
    total = await query.count()
    window = query.filter(id__lt=after) if after is not None else query
    if related:
        window = window.select_related(*related)
    rows = await window.order_by("-id").limit(size + 1)
    return Page(items=list(rows[:size]), has_next=len(rows) > size, total=total)
