"""Outgoing webhooks against a receiver on loopback: signed as the README says, retried
after 500s and timeouts with one event id, given up after the window (the endpoint
disabled, the owners emailed), and never sent to private addresses in production."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from ledger import webhook_deliveries
from ledger.actors import Actor
from ledger.errors import InvalidInput
from ledger.events import OutboxKind
from ledger.webhook_targets import TargetRefused, pin
from ledger.webhooks import create_endpoint
from models import OutboxMessage, User, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from notifications import build_emails
from settings import Settings
from tests.helpers import GraphQLClient, buy, create_account, gid
from tests.workers.webhook_receiver import Receiver
from workers.dispatch import InProcessDispatcher
from workers.webhook_relay import relay_webhooks

ROOT = Path(__file__).resolve().parent.parent.parent


def fast(**more: Any) -> Settings:
    """Retries in hundredths of a second, and a short time limit, so that tests run fast."""
    return Settings(
        webhook_retry_min_backoff_seconds=0.01,
        webhook_retry_max_backoff_seconds=0.05,
        webhook_timeout_seconds=0.5,
        **more,
    )


CREATE = """mutation($url: String!, $events: [WebhookEventType!]!) {
  createWebhookEndpoint(input: {url: $url, events: $events, balanceLowThreshold: 150}) {
    signingSecret webhookEndpoint { id url events enabled } errors { code message field }
  }
}"""
DELIVERIES = """query($id: ID!) { webhookDeliveries(endpointId: $id) {
  edges { node { status attempts eventId eventType responseStatus responseBody error } } } }"""


def readme_recipe() -> Callable[..., bool]:
    """`verify_webhook` exactly as the README shows it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### How to verify a webhook") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    return namespace["verify_webhook"]  # type: ignore[no-any-return]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def pump(settings: Settings, done: Callable[[], Any], seconds: float = 15) -> None:
    """Run the relay's webhook round and the in-process workers until `done()` holds."""
    dispatcher = InProcessDispatcher(settings)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await relay_webhooks(dispatcher, settings)
        await dispatcher.drain()
        if await done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the deliveries did not settle in time")


async def endpoint_for(client: GraphQLClient, url: str, events: list[str]) -> dict[str, Any]:
    answer = (await client.data(CREATE, {"url": url, "events": events}))["createWebhookEndpoint"]
    assert answer["errors"] == [], answer
    return answer


async def settled() -> bool:
    return not await WebhookDelivery.filter(status=WebhookDeliveryStatus.PENDING).exists()


async def test_a_delivery_verifies_with_the_readme_recipe(ann: GraphQLClient, receiver: Receiver):
    await create_account(ann, name="Acme")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    assert made["signingSecret"].startswith("whsec_")
    assert made["webhookEndpoint"]["events"] == ["PURCHASE_PAID"]
    purchase = (await buy(ann, 500, "p1"))["purchase"]

    await pump(fast(), settled)
    (request,) = receiver.received
    verify = readme_recipe()
    signature = request.headers["credits-signature"]
    assert verify(made["signingSecret"], signature, request.body)
    assert not verify(made["signingSecret"], signature, request.body + b" ")
    assert not verify("whsec_another", signature, request.body)
    assert not verify(made["signingSecret"], signature, request.body, tolerance=-1)

    body = json.loads(request.body)
    assert body["id"] == request.headers["credits-event-id"]
    assert body["type"] == "purchase.paid"
    assert body["data"]["purchase"]["id"] == purchase["id"]
    assert body["data"]["lot"]["credits"] == 500
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    # The secret is shown once: nothing answers it again, and the database holds no copy.
    stored = await WebhookEndpoint.get()
    assert made["signingSecret"] not in stored.secret


async def test_retries_after_500s_and_timeouts_with_one_event_id(
    ann: GraphQLClient, receiver: Receiver
):
    await create_account(ann, name="Acme")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    receiver.replies = [500, "hang", 503, 200]
    await buy(ann, 500, "p1")

    await pump(fast(), settled)
    assert len(receiver.received) == 4
    ids = {r.headers["credits-event-id"] for r in receiver.received}
    assert len(ids) == 1 and next(iter(ids)).startswith("evt_")
    assert len({r.body for r in receiver.received}) == 1
    verify = readme_recipe()
    assert all(
        verify(made["signingSecret"], r.headers["credits-signature"], r.body)
        for r in receiver.received
    )

    data = await ann.data(DELIVERIES, {"id": made["webhookEndpoint"]["id"]})
    (node,) = [edge["node"] for edge in data["webhookDeliveries"]["edges"]]
    assert node == {
        "status": "SUCCEEDED",
        "attempts": 4,
        "eventId": next(iter(ids)),
        "eventType": "purchase.paid",
        "responseStatus": 200,
        "responseBody": "ok",
        "error": None,
    }


async def test_the_last_answer_is_kept_to_1_kb(ann: GraphQLClient, receiver: Receiver):
    await create_account(ann, name="Acme")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    receiver.replies = [500] * 50
    await buy(ann, 500, "p1")
    settings = fast()

    async def tried_twice() -> bool:
        return await WebhookDelivery.filter(attempts__gte=2).exists()

    await pump(settings, tried_twice)
    data = await ann.data(DELIVERIES, {"id": made["webhookEndpoint"]["id"]})
    node = data["webhookDeliveries"]["edges"][0]["node"]
    assert node["status"] == "PENDING"
    assert node["responseStatus"] == 500 and node["responseBody"] == "x" * 1024
    assert node["error"] == "answered HTTP 500"


async def test_persistent_failure_disables_the_endpoint_and_emails_the_owners(
    ann: GraphQLClient, receiver: Receiver, clock: Any
):
    await create_account(ann, name="Acme")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    receiver.replies = [500] * 50
    await buy(ann, 500, "p1")
    settings = Settings(
        webhook_retry_min_backoff_seconds=60,
        webhook_retry_max_backoff_seconds=3600,
        webhook_retry_window_seconds=3 * 86400,
    )

    async def failed() -> bool:
        clock.advance(hours=2)  # the application's clock: retries become due
        return await WebhookDelivery.filter(status=WebhookDeliveryStatus.FAILED).exists()

    await pump(settings, failed, seconds=30)
    delivery = await WebhookDelivery.get()
    # Backoff 1, 2, 4, ... 32 minutes, then hourly, for 3 days (each round moves 2 h).
    assert 30 <= delivery.attempts <= 45
    endpoint = await WebhookEndpoint.get()
    assert endpoint.disabled_at is not None and "every attempt failed" in endpoint.disabled_reason
    sent = len(receiver.received)
    clock.advance(days=1)
    await buy(ann, 100, "p2")
    await pump(settings, settled)
    assert len(receiver.received) == sent  # nothing more is sent to it

    message = await OutboxMessage.get(kind=OutboxKind.WEBHOOK_ENDPOINT_DISABLED)
    (email,) = await build_emails(message, settings=settings)
    assert email.to == "ann@example.com" and receiver.url() in email.text

    answer = await ann.data(
        "mutation($id: ID!) { updateWebhookEndpoint(input: {id: $id, enabled: true})"
        " { webhookEndpoint { enabled } errors { code } } }",
        {"id": made["webhookEndpoint"]["id"]},
    )
    assert answer["updateWebhookEndpoint"]["webhookEndpoint"] == {"enabled": True}


async def test_ping_and_redeliver_send_the_same_event_again(ann: GraphQLClient, receiver: Receiver):
    await create_account(ann, name="Acme")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    ping = await ann.data(
        "mutation($id: ID!) { pingWebhookEndpoint(input: {id: $id})"
        " { webhookDelivery { id status eventType } errors { code } } }",
        {"id": made["webhookEndpoint"]["id"]},
    )
    delivery = ping["pingWebhookEndpoint"]["webhookDelivery"]
    assert delivery["status"] == "PENDING" and delivery["eventType"] == "ping"
    await pump(fast(), settled)
    again = await ann.data(
        "mutation($id: ID!) { redeliverWebhook(input: {deliveryId: $id})"
        " { webhookDelivery { status } errors { code } } }",
        {"id": delivery["id"]},
    )
    assert again["redeliverWebhook"]["webhookDelivery"] == {"status": "PENDING"}
    await pump(fast(), settled)
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["credits-event-id"] == second.headers["credits-event-id"]


async def test_balance_low_is_sent_once_per_fall(
    ann: GraphQLClient, support: GraphQLClient, client_factory: Any, receiver: Receiver
):
    from tests.helpers import redeem, upsert_course

    account = await create_account(ann, name="Acme")
    await endpoint_for(ann, receiver.url(), ["BALANCE_LOW", "REDEMPTION_APPROVED"])
    await buy(ann, 300, "p1")
    course = await upsert_course(support, "SEC-101", "Security basics", 100)
    learner = client_factory("lee@example.com", "Lee Learner")
    # 200 left, then 100 (below 150: sent), 0 (still below: not again); a purchase lifts
    # it to 500 (re-armed), and 400 left sends nothing.
    steps = [("r1", None), ("r2", None), ("r3", None), ("p2", 500), ("r4", None)]
    for key, credits in steps:
        if credits:
            await buy(ann, credits, key)
        else:
            await redeem(learner, account["redemptionCode"], course["id"], key)
        await pump(fast(), settled)  # the balance is read when the relay runs
    bodies = [json.loads(r.body) for r in receiver.received]
    assert [b["type"] for b in bodies].count("redemption.approved") == 4
    (low,) = [b for b in bodies if b["type"] == "balance.low"]
    assert low["data"] == {"available": 100}
    assert low["account"] == account["id"]


# SSRF: in production, only https:// to public addresses, checked after resolution.

PRODUCTION = Settings(environment="production")
REFUSED_URLS = [
    "http://hooks.example.com/x",
    "https://127.0.0.1/x",
    "https://localhost/x",
    "https://api.localhost/x",
    "https://10.1.2.3/x",
    "https://192.168.0.10/x",
    "https://172.16.5.4/x",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/x",
    "https://0.0.0.0/x",
    "https://[::1]/x",
    "https://[fe80::1]/x",
    "https://[fd00::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:10.0.0.1]/x",
    "https://[2002:a00:1::]/x",  # 6to4 around 10.0.0.1
    "https://user:pw@hooks.example.com/x",
    "ftp://hooks.example.com/x",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_private_targets_are_refused_when_saved_in_production(url: str, ann):
    await create_account(ann, name="Acme")
    owner = Actor(await User.get(email="ann@example.com"))
    with pytest.raises(InvalidInput):
        await create_endpoint(actor=owner, url=url, events=["purchase.paid"], settings=PRODUCTION)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """The loop's resolver answers `answers` (a rebinding DNS server); the names asked."""
    loop = asyncio.get_running_loop()
    asked: list[str] = []

    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        asked.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1"], ["10.0.0.7"], ["93.184.216.34", "169.254.169.254"], ["::1"]]
)
async def test_a_name_resolving_to_a_private_address_is_refused_at_send_time(
    addresses: list[str], monkeypatch: pytest.MonkeyPatch
):
    fake_dns(monkeypatch, {"hooks.example.com": addresses})
    with pytest.raises(TargetRefused, match="non-public address"):
        await pin("https://hooks.example.com/x", PRODUCTION)


async def test_a_public_name_is_pinned_to_the_address_checked(monkeypatch: pytest.MonkeyPatch):
    asked = fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    target = await pin("https://hooks.example.com/in?x=1", PRODUCTION)
    assert target.url == "https://93.184.216.34:443/in?x=1"
    assert target.host_header == "hooks.example.com"
    assert target.server_name == "hooks.example.com"  # TLS checks the certificate by name
    assert asked == ["hooks.example.com"]


async def test_the_connection_goes_to_the_resolved_address(
    ann: GraphQLClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
):
    await create_account(ann, name="Acme")
    await endpoint_for(ann, receiver.url(host="hooks.localhost"), ["PURCHASE_PAID"])
    asked = fake_dns(monkeypatch, {"hooks.localhost": ["127.0.0.1"]})
    await buy(ann, 500, "p1")
    await pump(fast(), settled)
    (request,) = receiver.received
    assert request.headers["host"] == f"hooks.localhost:{receiver.port}"
    assert asked == ["hooks.localhost"]  # resolved once, by the check


async def test_a_delivery_to_loopback_fails_in_production_and_reaches_nobody(
    ann: GraphQLClient, receiver: Receiver
):
    """An endpoint saved in development, sent by a production worker: refused before any
    connection (the scheme and then the address are checked at every attempt)."""
    await create_account(ann, name="Acme")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    await buy(ann, 500, "p1")
    settings = fast(environment="production")

    async def tried() -> bool:
        return await WebhookDelivery.filter(attempts__gte=2).exists()

    await pump(settings, tried)
    assert receiver.received == []
    data = await ann.data(DELIVERIES, {"id": made["webhookEndpoint"]["id"]})
    error = data["webhookDeliveries"]["edges"][0]["node"]["error"]
    assert error.startswith("refused: ") and "https://" in error


async def test_strangers_neither_see_nor_manage_another_accounts_endpoints(
    ann: GraphQLClient, stranger: GraphQLClient, receiver: Receiver
):
    account = await create_account(ann, name="Acme")
    await create_account(stranger, name="Mallory's own")
    made = await endpoint_for(ann, receiver.url(), ["PURCHASE_PAID"])
    endpoint_id = made["webhookEndpoint"]["id"]
    ping = await ann.data(
        "mutation($id: ID!) { pingWebhookEndpoint(input: {id: $id}) { webhookDelivery { id } } }",
        {"id": endpoint_id},
    )
    delivery_id = ping["pingWebhookEndpoint"]["webhookDelivery"]["id"]

    body = await stranger.post(
        "query($a: ID) { webhookEndpoints(accountId: $a) { totalCount } }", {"a": account["id"]}
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    body = await stranger.post(DELIVERIES, {"id": endpoint_id})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    for mutation, variables in [
        ('updateWebhookEndpoint(input: {id: $id, url: "http://127.0.0.1:1/x"})', endpoint_id),
        ("deleteWebhookEndpoint(input: {id: $id})", endpoint_id),
        ("pingWebhookEndpoint(input: {id: $id})", endpoint_id),
        ("redeliverWebhook(input: {deliveryId: $id})", delivery_id),
    ]:
        name = mutation.split("(")[0]
        data = await stranger.data(
            f"mutation($id: ID!) {{ {mutation} {{ errors {{ code }} }} }}", {"id": variables}
        )
        assert data[name]["errors"] == [{"code": "NOT_FOUND"}], name
    node = await stranger.data("query($id: ID!) { node(id: $id) { id } }", {"id": endpoint_id})
    assert node == {"node": None}
    # The stranger's own list is theirs alone.
    mine = await stranger.data("{ webhookEndpoints { totalCount } }")
    assert mine["webhookEndpoints"]["totalCount"] == 0
    assert (await WebhookEndpoint.get()).url == receiver.url()
    assert gid("WebhookEndpoint", 1) == endpoint_id


def test_backoff_doubles_up_to_the_maximum():
    settings = Settings(webhook_retry_min_backoff_seconds=30, webhook_retry_max_backoff_seconds=600)
    waits = [webhook_deliveries.backoff_seconds(n, settings) for n in range(1, 8)]
    assert waits == [30, 60, 120, 240, 480, 600, 600]
