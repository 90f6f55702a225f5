"""Shared fixtures: a migrated database per session, a movable clock, GraphQL clients.

Set DATABASE_URL=postgres://… to run the suite on PostgreSQL (a fresh database is
created for the session and dropped afterwards); otherwise a SQLite file is used.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise import Tortoise, connections

# Redis outlives a test run (and a CI run may follow one at once on the same server): this
# run's queues, locks and wrong-code counters live under a namespace of its own, which the
# live servers and workers the tests start inherit.
os.environ.setdefault("REDIS_NAMESPACE", f"test-{uuid.uuid4().hex[:12]}")
# Likewise the mail workers' sent journals (decision 33): a run's test databases reuse ids
# and, with the frozen clock, creation times, so one run must never read another's.
os.environ.setdefault("MAIL_JOURNAL_DIR", tempfile.mkdtemp(prefix="credits-test-journal-"))

from ledger import clock as app_clock
from ledger import payments, throttle
from settings import get_settings, tortoise_config
from tests.databases import postgres_url, scratch_database
from tests.helpers import GraphQLClient, make_client
from tests.live import LoggedServer, started
from tests.workers.smtp_server import SmtpServer


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = postgres_url()
    if base is None:
        path = tmp_path_factory.mktemp("db") / "credits.sqlite3"
        yield f"sqlite://{path}"
        return
    with scratch_database(base, "credits_test") as url:
        yield url


@pytest.fixture(scope="session")
async def database(db_url: str) -> AsyncIterator[str]:
    from tortoise.migrations.api.migrate import migrate

    config = tortoise_config(get_settings(), db_url)
    await migrate(config=config)
    await Tortoise.close_connections()
    await Tortoise.init(config=config, _enable_global_fallback=True)
    yield db_url
    await Tortoise.close_connections()


TABLES = [
    "webhook_delivery",
    "webhook_event",
    "webhook_endpoint",
    "email_delivery",
    "outbox_message",
    "reminder_sent",
    "job_lease",
    "draw",
    "ledger_entry",
    "idempotency_record",
    "redemption",
    "course",
    "lot",
    "quote_request",
    "purchase",
    "audit_event",
    "ownership",
    "account",
    "user",
]


async def truncate_all() -> None:
    conn = connections.get("default")
    if conn.capabilities.dialect == "postgres":
        names = ", ".join(f'"{t}"' for t in TABLES)
        # A failed concurrency test can leave work in flight: a deadlock here must not
        # fail every test after it.
        for attempt in range(5):
            try:
                await conn.execute_script(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
                return
            except Exception as exc:
                if getattr(exc, "sqlstate", None) != "40P01" or attempt == 4:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
    else:
        for table in TABLES:
            await conn.execute_script(f'DELETE FROM "{table}"')
        await conn.execute_script("DELETE FROM sqlite_sequence")


@pytest.fixture(autouse=True)
async def db(database: str) -> AsyncIterator[str]:
    yield database
    await truncate_all()


class FrozenClock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = moment


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    app_clock.set_clock(frozen)
    yield frozen
    app_clock.set_clock(None)


@pytest.fixture(autouse=True)
def sandbox_gateway() -> Iterator[payments.SandboxGateway]:
    gateway = payments.SandboxGateway()
    payments.set_gateway(gateway)
    yield gateway
    payments.set_gateway(payments.SandboxGateway())


@pytest.fixture(autouse=True)
def code_throttle() -> Iterator[None]:
    """Wrong codes counted afresh in each test: user ids start again with every test, so
    counts left in a shared Redis would lock out another test's users (tests of the Redis
    counter set their own)."""
    throttle.set_counter(throttle.MemoryCounter())
    yield
    throttle.set_counter(None)


@pytest.fixture
def client_factory(database: str):  # type: ignore[no-untyped-def]
    def factory(email: str, name: str = "", support: bool = False) -> GraphQLClient:
        return make_client(email=email, name=name or email.split("@")[0].title(), support=support)

    return factory


@pytest.fixture
def ann(client_factory) -> GraphQLClient:  # type: ignore[no-untyped-def]
    return client_factory("ann@example.com", "Ann Owner")


@pytest.fixture
def bob(client_factory) -> GraphQLClient:  # type: ignore[no-untyped-def]
    return client_factory("bob@example.com", "Bob Owner")


@pytest.fixture
def stranger(client_factory) -> GraphQLClient:  # type: ignore[no-untyped-def]
    return client_factory("mallory@example.net", "Mallory Stranger")


@pytest.fixture
def support(client_factory) -> GraphQLClient:  # type: ignore[no-untyped-def]
    return client_factory("help@credits.example", "Sam Support", support=True)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def server(database: str) -> Iterator[str]:
    """One real server for the session: two workers on PostgreSQL, one on SQLite."""
    from tests.live import live_server

    workers = 2 if database.startswith("postgres") else 1
    with live_server(database, workers=workers) as base:
        yield base


@pytest.fixture(scope="session")
def logged_server(
    database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LoggedServer]:
    """One real server process logging JSON, access log included, for tests that read
    the log or need every request to reach the same process."""
    from tests.live import live_server

    log_path = tmp_path_factory.mktemp("logged-server") / "server.log"
    with live_server(
        database,
        workers=1,
        extra_env={"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"},
        log_level="info",
        log_path=log_path,
    ) as base:
        yield LoggedServer(base, log_path)


@pytest.fixture
def http_factory(server: str):  # type: ignore[no-untyped-def]
    """Clients that talk to the real server over HTTP, each its own connection."""

    def factory(email: str, name: str = "", support: bool = False) -> GraphQLClient:
        return make_client(
            email=email, name=name or email.split("@")[0].title(), support=support, base_url=server
        )

    return factory


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that keeps what it accepts."""
    with started(SmtpServer()) as server:
        yield server
