"""The few hand-written queries' dialect differences, in one place."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from ledger.db import is_postgres


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


def _param(value: Any) -> Any:
    if isinstance(value, datetime) and not is_postgres():
        return value.astimezone(UTC).isoformat(" ")
    return value


async def fetch(sql: str, *values: Any) -> list[dict[str, Any]]:
    """Run `sql` with `%s` placeholders on the current connection."""
    if is_postgres():
        parts = sql.split("%s")
        sql = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
    else:
        sql = sql.replace("%s", "?")
    return list(
        await connections.get("default").execute_query_dict(sql, [_param(v) for v in values])
    )
