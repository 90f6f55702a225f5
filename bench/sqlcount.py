"""SQL statements per request: the service's, counted in-process, and the baseline's.

The service's statements are read from Tortoise's `tortoise.db_client` debug log while
one request runs through the real ASGI app (httpx.ASGITransport); the baseline's from
a connection wrapper while its handler answers the same request. BEGIN and COMMIT are
not statements Tortoise logs, and are not counted on either side. `same_sql` compares
the two lists with each SELECT's column list sorted: Tortoise orders a model's columns
differently in each process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx

from bench import baseline
from bench.scenarios import Request

VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
SELECT_LIST = re.compile(r"^SELECT (.*?) FROM ", re.DOTALL)


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().strip()
        if message.upper().startswith(VERBS):
            self.statements.append(message.rsplit(": [", 1)[0])  # drop the logged parameters


@contextmanager
def logged_sql() -> Iterator[list[str]]:
    logger = logging.getLogger("tortoise.db_client")
    handler, level, propagate = _Statements(), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        yield handler.statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


async def service_statements(app: Any, request: Request) -> tuple[list[str], bytes]:
    """The statements one request sends through the service, and its answer."""
    body, headers = request
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        with logged_sql() as statements:
            response = await http.post("/graphql", content=body, headers=headers)
    return list(statements), response.content


class RecordingConnection:
    """An asyncpg connection that notes every statement it is asked to run."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.statements: list[str] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.statements.append(query)
        rows: list[asyncpg.Record] = await self.conn.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.statements.append(query)
        return await self.conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.statements.append(query)
        return await self.conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        self.statements.append(query)
        status: str = await self.conn.execute(query, *args)
        return status

    def transaction(self) -> Any:
        return self.conn.transaction()


async def baseline_statements(dsn: str, sub: str, name: str, body: bytes) -> list[str]:
    """The statements the baseline's handler `name` sends for one request by `sub`."""
    conn = await asyncpg.connect(dsn)
    try:
        recorder = RecordingConnection(conn)
        await baseline.answer(recorder, sub, name, body)
    finally:
        await conn.close()
    return recorder.statements


def shape(statement: str) -> str:
    """The statement with its whitespace collapsed and its SELECT list sorted."""
    statement = " ".join(statement.split())
    match = SELECT_LIST.match(statement)
    if match is None:
        return statement
    columns = ",".join(sorted(match.group(1).split(",")))
    return f"SELECT {columns} FROM {statement[match.end() :]}"


def same_sql(service: list[str], baseline_: list[str]) -> bool:
    return sorted(map(shape, service)) == sorted(map(shape, baseline_))
