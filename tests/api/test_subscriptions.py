"""Subscriptions over a real WebSocket, against a live `credits serve` on the embedded
default (relay in the server, no Redis), on the suite's database: events reach the
owners and nobody else, stop for a removed owner, and the connection limits hold.
(Several server processes with Redis: tests/workers/test_live_events.py.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin, Subprotocol

from tests.helpers import GraphQLClient, buy, create_account, make_client, redeem, upsert_course
from tests.live import live_server
from tests.ws_client import LiveClient, token_for, until_subscribed

REQUESTED = "subscription($a: ID) { redemptionRequested(accountId: $a) { id status credits } }"
DECIDED = """subscription($a: ID) {
  redemptionDecided(accountId: $a) { id status reason decidedBy { email } learner { email } }
}"""
BALANCE = "subscription { balanceChanged { available pending } }"
MINE = "subscription { myRedemptionDecided { id status reason course { sku } } }"
ADD_OWNER = "mutation($e: String!) { addAccountOwner(input: {email: $e}) { errors { code } } }"
REMOVE_OWNER = (
    "mutation($e: String!) { removeAccountOwner(input: {email: $e}) { errors { code } } }"
)
APPROVE = "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { errors { code } } }"
DENY = """mutation($ids: [ID!]!) {
  denyRedemptions(input: {ids: $ids, reason: "Not this quarter"}) { errors { code } }
}"""
PROTOCOL = Subprotocol("graphql-transport-ws")
QUIET = 1.0  # seconds without a message after which nothing more is coming


@pytest.fixture(scope="module")
def embedded(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {
        "EMBEDDED_WORKERS": "true",
        "REDIS_URL": "",
        "OUTBOX_POLL_SECONDS": "0.1",
        "MAIL_DIR": str(tmp_path_factory.mktemp("mail")),
        "WS_MAX_CONNECTIONS_PER_USER": "3",
        "WS_IDLE_TIMEOUT_SECONDS": "3",
        "WS_MAX_MESSAGE_BYTES": "4096",
    }
    with live_server(database, workers=1, extra_env=env) as base:
        yield base


@pytest.fixture
async def base(embedded: str) -> str:
    await until_subscribed(embedded, 0)  # the previous test's subscriptions have ended
    return embedded


def client(base: str, email: str, support: bool = False) -> GraphQLClient:
    return make_client(
        email=email, name=email.split("@")[0].title(), support=support, base_url=base
    )


async def manual_account(base: str, owner: GraphQLClient) -> tuple[dict[str, Any], str]:
    """An account in MANUAL mode with credits, and a course of 100 credits."""
    account = await create_account(owner, name="Data", approvalMode="MANUAL")
    assert (await buy(owner, 1_000, "order-1"))["errors"] == []
    course = await upsert_course(client(base, "help@credits.example", True), "SQL-1", "SQL", 100)
    return account, str(course["id"])


Connect = Callable[[str], Awaitable[LiveClient]]


@pytest.fixture
async def connected(base: str) -> AsyncIterator[Connect]:
    """Opens signed-in connections, all closed when the test ends (passed or not)."""
    async with contextlib.AsyncExitStack() as stack:

        async def connect_as(email: str) -> LiveClient:
            live = await stack.enter_async_context(LiveClient(base, token_for(email)))
            await live.acknowledged()
            return live

        yield connect_as


def events(messages: list[dict[str, Any]], id: str) -> list[dict[str, Any]]:
    return [m["payload"]["data"] for m in messages if m["type"] == "next" and m["id"] == id]


async def test_owners_see_requests_and_decisions_and_strangers_see_nothing(
    base: str, connected: Connect
) -> None:
    ann = client(base, "ann@example.com")
    account, course = await manual_account(base, ann)
    assert (await ann.mutate("addAccountOwner", ADD_OWNER, {"e": "bob@example.com"}))[
        "errors"
    ] == []
    await create_account(client(base, "mallory@example.net"), name="Other")

    ann_live = await connected("ann@example.com")
    bob_live = await connected("bob@example.com")
    mallory_live = await connected("mallory@example.net")
    await ann_live.subscribe("req", REQUESTED)
    await ann_live.subscribe("dec", DECIDED, {"a": account["id"]})
    await bob_live.subscribe("req", REQUESTED, {"a": account["id"]})
    await mallory_live.subscribe("own", REQUESTED)  # her own account: hears nothing of Ann's
    await mallory_live.subscribe("ann", REQUESTED, {"a": account["id"]})
    refused = await mallory_live.receive()
    assert refused["id"] == "ann" and refused["payload"]["data"] is None
    assert refused["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await mallory_live.receive() == {"id": "ann", "type": "complete"}
    await until_subscribed(base, 4)

    learner = client(base, "lea@example.com")
    asked = await redeem(learner, account["redemptionCode"], course, "checkout-1")
    redemption_id = asked["redemption"]["id"]
    pending = {"redemptionRequested": {"id": redemption_id, "status": "PENDING", "credits": 100}}
    assert events([await ann_live.receive()], "req") == [pending]
    assert (await ann.mutate("approveRedemptions", APPROVE, {"ids": [redemption_id]}))[
        "errors"
    ] == []

    ann_got = await ann_live.messages(QUIET)
    assert events(ann_got, "req") == []
    assert events(ann_got, "dec") == [
        {
            "redemptionDecided": {
                "id": redemption_id,
                "status": "APPROVED",
                "reason": None,
                "decidedBy": {"email": "ann@example.com"},
                "learner": {"email": "lea@example.com"},
            }
        }
    ]
    assert events(await bob_live.messages(QUIET), "req") == [pending]
    assert await mallory_live.messages(QUIET) == []


async def test_a_removed_owner_stops_receiving_at_once(base: str, connected: Connect) -> None:
    ann = client(base, "ann@example.com")
    account, course = await manual_account(base, ann)
    assert (await ann.mutate("addAccountOwner", ADD_OWNER, {"e": "bob@example.com"}))[
        "errors"
    ] == []
    ann_live = await connected("ann@example.com")
    bob_live = await connected("bob@example.com")
    await ann_live.subscribe("req", REQUESTED)
    await bob_live.subscribe("req", REQUESTED, {"a": account["id"]})
    await until_subscribed(base, 2)

    assert (await ann.mutate("removeAccountOwner", REMOVE_OWNER, {"e": "bob@example.com"}))[
        "errors"
    ] == []
    asked = await redeem(client(base, "lea@example.com"), account["redemptionCode"], course, "c1")

    assert events(await ann_live.messages(QUIET), "req") == [
        {
            "redemptionRequested": {
                "id": asked["redemption"]["id"],
                "status": "PENDING",
                "credits": 100,
            }
        }
    ]
    # Bob's next event is not delivered: his subscription ends with an error instead.
    ended = await bob_live.messages(QUIET)
    assert [m["type"] for m in ended] == ["next", "complete"], ended
    assert ended[0]["payload"]["data"] is None
    assert ended[0]["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_balance_and_the_learners_own_decisions(base: str, connected: Connect) -> None:
    ann = client(base, "ann@example.com")
    account, course = await manual_account(base, ann)
    ann_live = await connected("ann@example.com")
    lea_live = await connected("lea@example.com")
    await ann_live.subscribe("balance", BALANCE)
    await lea_live.subscribe("mine", MINE)
    await until_subscribed(base, 2)

    lea, max_ = client(base, "lea@example.com"), client(base, "max@example.com")
    mine = (await redeem(lea, account["redemptionCode"], course, "c1"))["redemption"]["id"]
    other = (await redeem(max_, account["redemptionCode"], course, "c2"))["redemption"]["id"]
    assert (await ann.mutate("denyRedemptions", DENY, {"ids": [mine]}))["errors"] == []
    assert (await ann.mutate("approveRedemptions", APPROVE, {"ids": [other]}))["errors"] == []

    assert events(await lea_live.messages(QUIET), "mine") == [
        {
            "myRedemptionDecided": {
                "id": mine,
                "status": "DENIED",
                "reason": "Not this quarter",
                "course": {"sku": "SQL-1"},
            }
        }
    ]
    balances = [e["balanceChanged"] for e in events(await ann_live.messages(QUIET), "balance")]
    # Each change shows the balance after it; changes that commit close together may
    # come as one, so the last one is what every subscriber ends on.
    assert 1 <= len(balances) <= 4
    assert balances[-1] == {"available": 900, "pending": 0}


async def test_connection_init_needs_a_valid_token(base: str) -> None:
    for payload in ({}, {"authorization": "Bearer not-a-token"}, {"authorization": 42}):
        async with LiveClient(base, None, payload=payload) as live:
            code, reason = await live.closed()
            assert code == 4403 and reason.startswith("Forbidden"), (payload, code, reason)
    async with LiveClient(base, None) as live:
        await live.send({"id": "1", "type": "subscribe", "payload": {"query": REQUESTED}})
        assert (await live.closed())[0] == 4403


async def test_connections_per_user_are_limited(base: str, connected: Connect) -> None:
    opened = [await connected("ann@example.com") for _ in range(3)]
    async with LiveClient(base, token_for("ann@example.com")) as extra:
        assert await extra.closed() == (4429, "Too many connections for this user")
    await connected("bob@example.com")
    # A connection closed gives its place back.
    await opened.pop().__aexit__(None, None, None)
    for _ in range(50):
        async with LiveClient(base, token_for("ann@example.com")) as again:
            if (await again.receive())["type"] == "connection_ack":
                break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the closed connection's place was not given back")


async def test_an_idle_connection_is_closed(base: str, connected: Connect) -> None:
    idle = await connected("ann@example.com")
    assert await idle.closed(within=8) == (4408, "Idle timeout")


async def test_a_subscription_is_kept_open_past_the_idle_timeout(
    base: str, connected: Connect
) -> None:
    ann = client(base, "ann@example.com")
    await create_account(ann, name="Data")
    live = await connected("ann@example.com")
    await live.subscribe("balance", BALANCE)
    assert await live.messages(quiet=4) == []  # longer than the idle timeout
    assert (await buy(ann, 500, "order-9"))["errors"] == []
    assert events(await live.messages(QUIET), "balance") == [
        {"balanceChanged": {"available": 500, "pending": 0}}
    ]


async def test_a_message_over_the_limit_closes_the_connection(
    base: str, connected: Connect
) -> None:
    live = await connected("ann@example.com")
    await live.subscribe("big", "subscription { balanceChanged { available } }" + " " * 5000)
    assert await live.closed() == (1009, "Message too big")


async def test_subscriptions_need_a_websocket(base: str) -> None:
    body = await client(base, "ann@example.com").post(BALANCE)
    assert body["errors"], body


async def test_browsers_connect_only_from_the_allowed_origins(base: str) -> None:
    """Browsers send Origin; pages of other origins may not subscribe with a user's
    token (CORS_ORIGINS: in development, localhost ones)."""
    url = base.replace("http://", "ws://") + "/graphql"
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, subprotocols=[PROTOCOL], origin=Origin("https://evil.example"))
    assert refused.value.response.status_code == 403
    allowed = await connect(url, subprotocols=[PROTOCOL], origin=Origin("http://localhost:5173"))
    await allowed.close()
