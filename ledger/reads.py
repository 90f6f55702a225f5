"""The lists' pages and the rows their items link to, read by hand-written SQL as plain
rows (mappings keyed by column name), for the compiled read path (decision 27).

The access decision is made before any of these run (`ledger.access`), and the list
rules (`ledger.history`, `ledger.redemptions`, `ledger.courses`) build their pages from
these same reads, so both executors list exactly the same rows. Each page is one
statement, its total counted in it; joined rows come under a prefix (`course__sku`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from tortoise import connections
from tortoise.models import Model

from ledger.db import is_postgres
from ledger.pages import Page, PageRequest, checked, cut
from models import Course, Ownership, User

Row = Mapping[str, Any]
_log = logging.getLogger("tortoise.db_client")
M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Joined:
    """A row that another's foreign key `<name>_id` names, joined into its statement (the
    parent table is `t`); its columns come as `<name>__<column>`."""

    name: str
    model: type[Model]
    alias: str

    @property
    def prefix(self) -> str:
        return f"{self.name}__"

    @property
    def on(self) -> str:
        table, alias = self.model._meta.db_table, self.alias
        return f'JOIN "{table}" {alias} ON {alias}.id = t.{self.name}_id'


COURSE = Joined("course", Course, "c")
LEARNER = Joined("learner", User, "l")
REDEMPTION_JOINS = (COURSE, LEARNER)


def _columns(model: type[Model], alias: str, prefix: str = "") -> str:
    return ", ".join(
        f'{alias}."{column}" AS "{prefix}{column}"'
        for column in model._meta.fields_db_projection.values()
    )


def _select(model: type[Model], joins: Sequence[Joined], *extra: str) -> str:
    """SELECT the columns of `model` (as `t`) and of its joined rows, and `extra` ones."""
    parts = [_columns(model, "t"), *(_columns(j.model, j.alias, j.prefix) for j in joins), *extra]
    froms = " ".join([f'"{model._meta.db_table}" t', *(j.on for j in joins)])
    return f"SELECT {', '.join(parts)} FROM {froms}"


_PG_SQL: dict[str, str] = {}


def _numbered(sql: str) -> str:
    """`%s` placeholders as PostgreSQL's `$1, $2, …` (each text converted once)."""
    found = _PG_SQL.get(sql)
    if found is None:
        parts = sql.split("%s")
        found = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
        _PG_SQL[sql] = found
    return found


async def fetch_rows(
    sql: str, values: Sequence[Any], models: Sequence[tuple[type[Model], str]]
) -> list[Row]:
    """Run `sql` (`%s` placeholders) on the current connection. PostgreSQL's driver
    answers native values; SQLite's text and integers are converted as the ORM would,
    for the `models` whose columns (under their prefix) the rows hold."""
    client = connections.get("default")
    if is_postgres():
        sql = _numbered(sql)
        if _log.isEnabledFor(logging.DEBUG):  # logged as the ORM logs its statements
            _log.debug("%s: %s", sql, list(values))
        async with client.acquire_connection() as connection:
            return list(await connection.fetch(sql, *values))
    rows = await client.execute_query_dict(sql.replace("%s", "?"), [_sqlite(v) for v in values])
    return [_from_sqlite(row, models) for row in rows]


def _sqlite(value: Any) -> Any:
    if isinstance(value, datetime):  # stored as '2026-03-01 09:00:00+00:00'
        return value.astimezone(UTC).isoformat(" ")
    if isinstance(value, list):
        raise TypeError("SQLite takes no arrays: use `_any_of`")
    return value


def _from_sqlite(row: dict[str, Any], models: Sequence[tuple[type[Model], str]]) -> Row:
    for model, prefix in models:
        meta = model._meta
        for key, _, field in meta.db_default_fields:
            value = row.get(prefix + key)
            if value is not None:
                row[prefix + key] = field.field_type(value)
        for key, _, field in meta.db_complex_fields:
            if prefix + key in row:
                row[prefix + key] = field.to_python_value(row[prefix + key])
    return row


def _any_of(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    if is_postgres():
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join('%s' for _ in ids)})", list(ids)


@dataclass
class Where:
    """The conditions of a list (SQL over the table `t`, and their values)."""

    clauses: list[str]
    values: list[Any]

    def add(self, clause: str, *values: Any) -> None:
        self.clauses.append(clause)
        self.values.extend(values)

    def within_days(self, column: str, start: date | None, end: date | None) -> None:
        """`column` on the days `start` to `end` (UTC, both included; either open)."""
        if start:
            self.add(f"t.{column} >= %s", datetime.combine(start, time.min, UTC))
        if end:
            self.add(f"t.{column} < %s", datetime.combine(end + timedelta(days=1), time.min, UTC))

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "TRUE"


async def page_of(
    model: type[Model],
    where: Where,
    page: PageRequest,
    *,
    joins: Sequence[Joined] = (),
    count: bool = True,
) -> Page[Row]:
    """A page of the rows of `model` that `where` keeps, newest first (`ledger.pages`),
    and, if `count`, how many it keeps in all, in one statement."""
    size = checked(page)
    window = Where(list(where.clauses), list(where.values))
    if page.after is not None:
        window.add("t.id < %s", page.after)
    if page.before is not None:
        window.add("t.id > %s", page.before)
    table = model._meta.db_table
    total = f'(SELECT count(*) FROM "{table}" t WHERE {where.sql()}) AS "__total"'
    sql = (
        f"{_select(model, joins, *([total] if count else []))} WHERE {window.sql()} "
        f"ORDER BY t.id {'ASC' if page.backward else 'DESC'} LIMIT %s"
    )
    values = [*(where.values if count else ()), *window.values, size + 1]
    rows = await fetch_rows(sql, values, [(model, ""), *((j.model, j.prefix) for j in joins)])
    counted = 0
    if count:
        if rows:
            counted = int(rows[0]["__total"])
        elif page.after is not None or page.before is not None:  # an empty page beyond rows
            found = await fetch_rows(
                f'SELECT count(*) AS "n" FROM "{table}" t WHERE {where.sql()}', where.values, ()
            )
            counted = int(found[0]["n"])
    return cut(rows, page, size, counted)


async def by_id(
    model: type[Model], ids: Iterable[int], joins: Sequence[Joined] = ()
) -> dict[int, Row]:
    """The rows of `model` with these ids (those that exist), by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    clause, values = _any_of("t.id", wanted)
    rows = await fetch_rows(
        f"{_select(model, joins)} WHERE {clause}",
        values,
        [(model, ""), *((j.model, j.prefix) for j in joins)],
    )
    return {int(row["id"]): row for row in rows}


async def first(model: type[M], where: str, *values: Any, join: str = "") -> M | None:
    """The row of `model` (as `t`, `join`ed with others if given) that `where` keeps, as
    the ORM's object: a lookup the hottest paths make, without the ORM's query builder."""
    rows = await fetch_rows(
        f"{_select(model, ())} {join} WHERE {where} LIMIT 1", values, [(model, "")]
    )
    return as_model(model, rows[0]) if rows else None


async def grouped(model: type[Model], column: str, keys: Iterable[int]) -> dict[int, list[Row]]:
    """The rows of `model` whose `column` is one of `keys`, in id order, by that column."""
    wanted = sorted(set(keys))
    found: dict[int, list[Row]] = defaultdict(list)
    if not wanted:
        return found
    clause, values = _any_of(f"t.{column}", wanted)
    rows = await fetch_rows(
        f"{_select(model, ())} WHERE {clause} ORDER BY t.id", values, [(model, "")]
    )
    for row in rows:
        found[int(row[column])].append(row)
    return found


async def owners(account_ids: Iterable[int]) -> dict[int, list[Row]]:
    """Each account's owners (users), in the order they became owners."""
    wanted = sorted(set(account_ids))
    found: dict[int, list[Row]] = defaultdict(list)
    if not wanted:
        return found
    clause, values = _any_of("o.account_id", wanted)
    rows = await fetch_rows(
        f"{_select(User, (), 'o.account_id AS __account')} "
        f'JOIN "{Ownership._meta.db_table}" o ON o.user_id = t.id WHERE {clause} ORDER BY o.id',
        values,
        [(User, "")],
    )
    for row in rows:
        found[int(row["__account"])].append(row)
    return found


def as_model(model: type[M], row: Row, joins: Sequence[Joined] = ()) -> M:
    """A row as the ORM's object, with its joined rows where `select_related` keeps them."""
    found = model._init_from_db(**row)
    for join in joins:
        related = {
            key[len(join.prefix) :]: value
            for key, value in row.items()
            if key.startswith(join.prefix)
        }
        setattr(found, f"_{join.name}", join.model._init_from_db(**related))
    return found


def as_models(model: type[M], page: Page[Row], joins: Sequence[Joined] = ()) -> Page[M]:
    items = [as_model(model, row, joins) for row in page.items]
    return Page(items, page.has_next, page.total, page.has_previous)


def model_pages(
    model: type[M], rule: Callable[..., Awaitable[Page[Row]]], joins: Sequence[Joined] = ()
) -> Callable[..., Awaitable[Page[M]]]:
    """`rule`, which lists rows, listing the ORM's objects instead (what the reference
    executor's types are built from)."""

    async def listed(**arguments: Any) -> Page[M]:
        return as_models(model, await rule(**arguments), joins)

    return listed
