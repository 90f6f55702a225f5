"""Live events come from committed outbox rows, each published once by the relay that
hands the row over; with Redis, two server processes each deliver every event once to
each of their own subscribers."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.events import OutboxKind
from ledger.live import LiveEvent, events_from_outbox
from live.feed import Hub, Overflow
from tests.databases import postgres_url
from tests.helpers import buy, create_account, make_client, redeem, upsert_course
from tests.live import credits_worker, live_server
from tests.notifications import factories as f
from tests.workers.redis_server import RedisServer
from tests.workers.test_relay import Recorder
from tests.ws_client import LiveClient, token_for, until_subscribed
from workers.relay import redispatch_stale, relay_once

ROOT = Path(__file__).resolve().parents[2]


class Published:
    def __init__(self) -> None:
        self.events: list[LiveEvent] = []

    async def publish(self, events: list[LiveEvent]) -> None:
        self.events.extend(events)

    async def close(self) -> None:
        return None


async def test_the_relay_publishes_each_committed_row_once(clock) -> None:
    settings = f.mail_settings(outbox_redispatch_seconds=1)
    team = await f.team()
    await f.buy(team)
    pending = await f.redemption(team, by=await f.learner(), of=await f.course())
    await f.message(OutboxKind.REDEMPTION_REQUESTED, redemption_id=pending.id)

    live = Published()
    await relay_once(Recorder(), settings=settings, live=live)
    # Owners added and other kinds nobody subscribes to are not published.
    assert [(e.kind, e.account_id, e.redemption_id) for e in live.events] == [
        ("purchase_paid", team.account.id, None),
        ("redemption_requested", team.account.id, pending.id),
    ]
    assert live.events[1].learner_id == pending.learner_id

    clock.advance(hours=1)  # handed over again as lost: mail again, but no second event
    assert await redispatch_stale(Recorder(), settings) >= 2
    assert await relay_once(Recorder(), settings=settings, live=live) == 0
    assert len(live.events) == 2


async def test_an_event_of_a_redemption_that_is_gone_is_left_out(clock) -> None:
    message = await f.message(OutboxKind.REDEMPTION_DENIED, redemption_id=999_999)
    assert await events_from_outbox([message]) == []


async def test_a_subscriber_that_falls_behind_is_told_so() -> None:
    hub = Hub()
    event = LiveEvent(id=1, kind="purchase_paid", account_id=7)
    async with hub.listen(lambda e: e.account_id == 7) as listener:
        hub.publish([event] * 300)
        with pytest.raises(Overflow):
            await listener.next()
    assert hub.listeners == set()


REQUESTED = "subscription { redemptionRequested { id status } }"
DECIDED = "subscription($a: ID) { redemptionDecided(accountId: $a) { id status } }"
APPROVE = "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { errors { code } } }"
ADD_OWNER = "mutation($e: String!) { addAccountOwner(input: {email: $e}) { errors { code } } }"
LEARNERS = 4


@pytest.fixture
def two_servers(db: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two server processes on one database and a private Redis, and a `credits worker`
    of two processes (two relays) beside them."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: live events over Redis cannot be tested")
    redis = RedisServer()
    redis.start()
    env = {
        "REDIS_URL": redis.url,
        "OUTBOX_POLL_SECONDS": "0.1",
        "MAIL_DIR": str(tmp_path / "mail"),
    }
    try:
        with (
            credits_worker(db, env, tmp_path / "worker.log", processes=2),
            live_server(db, workers=1, extra_env=env) as first,
            live_server(db, workers=1, extra_env=env) as second,
        ):
            yield first, second
    finally:
        redis.stop()


def _data(messages: list[dict[str, Any]], id: str, field: str) -> list[str]:
    return [
        m["payload"]["data"][field]["id"] for m in messages if m["type"] == "next" and m["id"] == id
    ]


@pytest.mark.skipif(
    postgres_url() is None,
    reason="two server processes share one database: PostgreSQL (a SQLite file serves one)",
)
async def test_two_server_processes_deliver_each_event_once_per_subscriber(
    two_servers: tuple[str, str],
) -> None:
    first, second = two_servers
    ann = make_client(email="ann@example.com", name="Ann", base_url=first)
    account = await create_account(ann, name="Data", approvalMode="MANUAL")
    assert (await ann.mutate("addAccountOwner", ADD_OWNER, {"e": "bob@example.com"}))[
        "errors"
    ] == []
    assert (await buy(ann, 5_000, "order-1"))["errors"] == []
    support = make_client(email="help@x.example", name="Sam", support=True, base_url=second)
    course = await upsert_course(support, "SQL-1", "SQL", 100)

    subscribers = [
        (first, "ann@example.com"),
        (second, "bob@example.com"),
        (second, "ann@example.com"),  # the same owner on the other process too
    ]
    sockets = [LiveClient(base, token_for(email)) for base, email in subscribers]
    for live in sockets:
        await live.__aenter__()
    try:
        for live in sockets:
            await live.acknowledged()
            await live.subscribe("req", REQUESTED)
            await live.subscribe("dec", DECIDED, {"a": account["id"]})
        await until_subscribed(first, 2)
        await until_subscribed(second, 4)

        learners = [
            make_client(email=f"l{i}@example.com", name=f"L{i}", base_url=(first, second)[i % 2])
            for i in range(LEARNERS)
        ]
        asked = await asyncio.gather(
            *(
                redeem(learner, account["redemptionCode"], course["id"], f"c{i}")
                for i, learner in enumerate(learners)
            )
        )
        ids = sorted(a["redemption"]["id"] for a in asked)
        # Every subscriber hears of every request before the owner decides.
        heard = [[m async for m in _until(live, "req", LEARNERS)] for live in sockets]
        for messages in heard:
            assert sorted(_data(messages, "req", "redemptionRequested")) == ids
        assert (await ann.mutate("approveRedemptions", APPROVE, {"ids": ids}))["errors"] == []

        for live in sockets:
            messages = await live.messages(quiet=1.5)  # long enough for any duplicate
            assert sorted(_data(messages, "dec", "redemptionDecided")) == ids, messages
            assert _data(messages, "req", "redemptionRequested") == []
    finally:
        for live in sockets:
            await live.__aexit__(None, None, None)


async def _until(live: LiveClient, id: str, count: int) -> Any:
    """The messages up to the `count`-th event of subscription `id`."""
    seen = 0
    while seen < count:
        message = await live.receive(within=15)
        seen += message.get("id") == id and message["type"] == "next"
        yield message
