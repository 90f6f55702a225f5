"""Throwaway PostgreSQL databases for the tests, on the DATABASE_URL server."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg


def postgres_url() -> str | None:
    """DATABASE_URL when it names a PostgreSQL server (else the tests run on SQLite)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


@contextmanager
def scratch_database(base: str, prefix: str) -> Iterator[str]:
    """A new empty database on `base`'s server, dropped afterwards: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    server = base.rsplit("/", 1)[0]

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(
            f"{server}/postgres".replace("postgres://", "postgresql://", 1)
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
