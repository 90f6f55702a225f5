"""Email goes out in every mode a user can choose, on the suite's database.

- `embedded`: `credits serve` alone (no REDIS_URL): relay, delivery and scheduler run on
  the server's own event loop. On PostgreSQL this once delivered nothing at all: the
  delivery tasks inherited the relay's transaction connection.
- `redis-worker`: `credits serve` with REDIS_URL, and a separate `credits worker`.

The suite runs on SQLite (embedded only: a SQLite file serves one process) and on
PostgreSQL (both modes). The test only speaks HTTP to the server, as clients do, and
reads a real SMTP server's inbox.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models import OutboxMessage
from tests.databases import postgres_url
from tests.helpers import buy, create_account, make_client, redeem, upsert_course
from tests.live import credits_worker, live_server
from tests.workers.redis_server import RedisServer
from tests.workers.smtp_server import SmtpServer

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = 12

ADD_OWNER = """
mutation($email: String!) {
  addAccountOwner(input: {email: $email}) { errors { code } }
}"""
APPROVE = """
mutation($ids: [ID!]!) {
  approveRedemptions(input: {ids: $ids}) { totalCredits errors { code message } }
}"""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A SQLite file serves one process (decision 0021): a separate worker is a
    # PostgreSQL deployment.
    if "mode" in metafunc.fixturenames:
        metafunc.parametrize(
            "mode", ["embedded", "redis-worker"] if postgres_url() else ["embedded"]
        )


@pytest.fixture
def service(mode: str, db: str, smtp: SmtpServer, tmp_path: Path) -> Iterator[str]:
    """A live server delivering mail in the given mode: its base URL."""
    env = smtp.worker_env()
    if mode == "embedded":
        with live_server(
            db, workers=1, extra_env={**env, "EMBEDDED_WORKERS": "true", "REDIS_URL": ""}
        ) as base:
            yield base
        return
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: the worker mode cannot be tested")
    redis = RedisServer()
    redis.start()
    env["REDIS_URL"] = redis.url
    try:
        with (
            credits_worker(db, env, tmp_path / "worker.log", processes=1),
            live_server(db, workers=1, extra_env=env) as base,
        ):
            yield base
    finally:
        redis.stop()


async def _until_all_delivered(within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while await OutboxMessage.filter(delivered_at__isnull=True).exists():
        if time.monotonic() > deadline:
            rows = await OutboxMessage.filter(delivered_at__isnull=True).values(
                "id", "kind", "attempts", "last_error"
            )
            raise AssertionError(f"not delivered after {within:.0f} s: {rows}")
        await asyncio.sleep(0.2)


async def test_every_notification_is_emailed_once_while_the_api_stays_healthy(
    service: str, smtp: SmtpServer
) -> None:
    ann = make_client(email="ann@example.com", name="Ann Owner", base_url=service)
    support = make_client(
        email="help@credits.example", name="Sam Support", support=True, base_url=service
    )
    account = await create_account(ann, name="Data", approvalMode="MANUAL")
    assert (await ann.mutate("addAccountOwner", ADD_OWNER, {"email": "bob@example.com"}))[
        "errors"
    ] == []
    assert (await buy(ann, 5_000, "order-1"))["errors"] == []
    course = await upsert_course(support, "JIRA-101", "Jira Fundamentals", 150)

    # Learners check out while the owner keeps reading: delivery runs meanwhile, and no
    # request may answer an error because of it.
    learners = [
        make_client(email=f"learner{i}@example.com", name=f"Learner {i}", base_url=service)
        for i in range(LEARNERS)
    ]
    answers = await asyncio.gather(
        *(
            redeem(learner, account["redemptionCode"], course["id"], f"checkout-{i}")
            for i, learner in enumerate(learners)
        ),
        *(ann.data("{ balance { available pending } }") for _ in range(LEARNERS)),
    )
    redemptions = answers[:LEARNERS]
    assert all(r["errors"] == [] for r in redemptions), redemptions
    ids = [r["redemption"]["id"] for r in redemptions]
    approved = await ann.mutate("approveRedemptions", APPROVE, {"ids": ids})
    assert approved == {"totalCredits": 150 * LEARNERS, "errors": []}

    await _until_all_delivered()
    # Each owner: the owner-added notice (bob), the purchase, and per learner the request
    # waiting and the approval copy; each learner: the approval. Nobody twice.
    assert len(smtp.inbox.to("bob@example.com")) == 1 + 1 + 2 * LEARNERS
    assert len(smtp.inbox.to("ann@example.com")) == 1 + 2 * LEARNERS
    for i in range(LEARNERS):
        mail = smtp.inbox.to(f"learner{i}@example.com")
        assert len(mail) == 1
        body = mail[0].message.get_body(("plain",))
        assert body is not None and "has been approved" in body.get_content()
