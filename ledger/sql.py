"""The few hand-written queries' dialect differences, in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.db import is_postgres
from ledger.reads import fetch_rows


def month_of(column: str) -> str:
    """SQL for the 'YYYY-MM' (UTC) of a datetime column."""
    if is_postgres():
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
    return f"substr({column}, 1, 7)"  # SQLite stores '2026-03-01 09:00:00+00:00'


def any_of(column: str, values: list[int]) -> tuple[str, list[Any]]:
    """SQL and parameters for `column` being one of `values` (one parameter on PostgreSQL)."""
    if is_postgres():
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN ({', '.join('%s' for _ in values)})", list(values)


def parse_datetime(value: datetime | str) -> datetime:
    """A datetime read by `fetch`: SQLite answers text for computed or raw columns."""
    if isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


async def fetch(sql: str, *values: Any) -> list[dict[str, Any]]:
    """Run `sql` with `%s` placeholders on the current connection."""
    return [dict(row) for row in await fetch_rows(sql, values, ())]
