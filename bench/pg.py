"""Throwaway PostgreSQL databases, migrated like the service's own, for one benchmark run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from tortoise import Tortoise

from settings import get_settings, tortoise_config

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The server to create databases on: DATABASE_URL when it is PostgreSQL."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_SERVER


def database_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name


def asyncpg_dsn(url: str) -> str:
    """asyncpg wants `postgresql://`; drop the Tortoise pool options too."""
    return url.replace("postgres://", "postgresql://", 1).split("?", 1)[0]


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url(server, "postgres")))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def migrate(url: str) -> None:
    from tortoise.migrations.api.migrate import migrate as apply

    try:
        await apply(config=tortoise_config(get_settings(), url))
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def throwaway_database(prefix: str) -> AsyncIterator[str]:
    """Create and migrate a new database; drop it on the way out, whatever happened."""
    server = server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    try:
        url = database_url(server, name)
        await migrate(url)
        yield url
    finally:
        await Tortoise.close_connections()
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def tortoise_on(url: str) -> AsyncIterator[None]:
    """The service's ORM set-up (models, pool size, UTC) on `url`."""
    await Tortoise.init(config=tortoise_config(get_settings(), url), _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()
