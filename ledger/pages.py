"""Keyset pages, newest first: `after` is the id of the last row already seen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from ledger.errors import InvalidInput

M = TypeVar("M", bound=Model)
T = TypeVar("T")
DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list, newest first: the `first` rows after the row `after`, or the
    `last` rows before the row `before` (Relay's forward and backward paging)."""

    first: int | None = None
    after: int | None = None
    last: int | None = None
    before: int | None = None

    @property
    def backward(self) -> bool:
        return self.last is not None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool
    total: int
    has_previous: bool = False


EARLIEST = date(2000, 1, 1)
LATEST = date(2199, 12, 31)


def check_date(value: date | None, field: str) -> date | None:
    """Dates from clients stay in a range the database and date arithmetic can hold."""
    if value is not None and not EARLIEST <= value <= LATEST:
        raise InvalidInput(f"{field} must be between {EARLIEST} and {LATEST}", field=[field])
    return value


def check_days(start: date | None, end: date | None) -> None:
    """A `from`/`to` pair of days: each in range, `from` not after `to`."""
    check_date(start, "from")
    check_date(end, "to")
    if start and end and start > end:
        raise InvalidInput("from must not be after to", field=["from"])


def within_days(
    query: QuerySet[M], column: str, start: date | None, end: date | None
) -> QuerySet[M]:
    """Rows of `query` whose `column` falls on the days `start` to `end` (UTC, both
    included; either may be open)."""
    if start:
        query = query.filter(**{f"{column}__gte": datetime.combine(start, time.min, UTC)})
    if end:
        day_after = datetime.combine(end + timedelta(days=1), time.min, UTC)
        query = query.filter(**{f"{column}__lt": day_after})
    return query


def page_size(first: int | None, field: str = "first") -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise InvalidInput(f"{field} must be between 0 and {MAX_PAGE}", field=[field])
    return first


def checked(page: PageRequest) -> int:
    """The page's size, once its arguments are known to make sense (INVALID_INPUT if not)."""
    if page.first is not None and page.last is not None:
        raise InvalidInput("give first or last, not both", field=["last"])
    return page_size(page.last, "last") if page.backward else page_size(page.first)


def cut(rows: list[T], page: PageRequest, size: int, total: int) -> Page[T]:
    """The page, from up to `size + 1` rows read in the page's direction (newest first
    forward, oldest first backward): one row more than the page says another page follows."""
    if page.backward:
        return Page(
            items=rows[:size][::-1],
            has_next=page.before is not None,
            total=total,
            has_previous=len(rows) > size,
        )
    return Page(
        items=rows[:size],
        has_next=len(rows) > size,
        total=total,
        has_previous=page.after is not None,
    )


async def newest_first(
    query: QuerySet[M], *, page: PageRequest, related: tuple[str, ...] = ()
) -> Page[M]:
    """A page of `query`, newest first; `related` rows are joined into the page's query.

    Forward, the page is the newest `first` rows older than `after`; backward, the
    oldest `last` rows newer than `before`, still listed newest first.
    """
    if page.first is not None and page.last is not None:
        raise InvalidInput("give first or last, not both", field=["last"])
    total = await query.count()
    size = checked(page)
    window = query.filter(id__lt=page.after) if page.after is not None else query
    if page.before is not None:
        window = window.filter(id__gt=page.before)
    if related:
        window = window.select_related(*related)
    order = "id" if page.backward else "-id"
    return cut(list(await window.order_by(order).limit(size + 1)), page, size, total)
