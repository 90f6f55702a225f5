"""The relay hands rows over, hands over again what the broker lost, and never drops a
notification silently: one that failed for good stays listed, counted and retryable."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis

from ledger.events import OutboxKind
from ledger.outbox import list_undelivered
from models import OutboxMessage
from tests.helpers import asgi_app
from tests.live import credits_worker
from tests.notifications import factories as f
from workers import jobs
from workers.dispatch import BrokerDispatcher, InProcessDispatcher
from workers.mail import DeliveryError, PermanentDeliveryError
from workers.relay import redispatch_stale, relay_once

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[object, ...]]] = []
        self.attempts: list[int] = []

    async def send(self, job: jobs.JobName, *args: object, attempt: int = 0) -> None:
        self.sent.append((job.value, args))
        self.attempts.append(attempt)


async def _purchase_paid() -> OutboxMessage:
    team = await f.team()
    await f.buy(team)
    return await f.latest(OutboxKind.PURCHASE_PAID)


async def test_a_row_the_broker_lost_is_handed_over_again_after_the_grace(clock, smtp):
    settings = smtp.settings(outbox_redispatch_seconds=300)
    message = await _purchase_paid()
    lost = Recorder()
    assert await relay_once(lost, settings=settings) >= 1  # taken by a broker that lost it

    again = Recorder()
    clock.advance(seconds=299)
    assert await redispatch_stale(again, settings) == 0
    clock.advance(seconds=2)
    assert await redispatch_stale(again, settings) >= 1
    assert ("deliver_notification", (message.id,)) in again.sent
    row = await OutboxMessage.get(id=message.id)
    assert row.dispatched_at == clock()  # and the next look waits a grace again
    assert await redispatch_stale(Recorder(), settings) == 0


async def test_a_row_waiting_for_its_retry_is_not_handed_over_early(clock, smtp):
    settings = smtp.settings(outbox_redispatch_seconds=300, mail_retry_min_backoff_ms=60_000)
    message = await _purchase_paid()
    await relay_once(Recorder(), settings=settings)
    await OutboxMessage.filter(id=message.id).update(attempts=3)
    smtp.stop()  # the fourth attempt fails
    with pytest.raises(DeliveryError):
        await jobs.deliver_notification(message.id, settings=settings)
    smtp.start()
    # dramatiq waits at most twice the backoff (jitter): 2 x 60 s x 2^3 = 16 minutes; then
    # the 5-minute grace.
    clock.advance(minutes=20, seconds=59)
    early = Recorder()
    await redispatch_stale(early, settings)
    assert ("deliver_notification", (message.id,)) not in early.sent
    clock.advance(seconds=2)
    late = Recorder()
    await redispatch_stale(late, settings)
    assert ("deliver_notification", (message.id,)) in late.sent
    # Handed over again, it keeps its place in the retry schedule.
    assert late.attempts[late.sent.index(("deliver_notification", (message.id,)))] == 4


async def test_a_refused_notification_is_failed_listed_counted_and_retried(clock, smtp, db):
    message = await _purchase_paid()
    smtp.inbox.refuse = set(f.OWNERS)
    with pytest.raises(PermanentDeliveryError):
        await jobs.deliver_notification(message.id, settings=smtp.settings())
    row = await OutboxMessage.get(id=message.id)
    assert row.failed_at == clock() and row.delivered_at is None
    assert await redispatch_stale(Recorder(), smtp.settings()) == 0  # not sent forever

    listing = await list_undelivered(limit=10)
    assert listing.startswith("1 failed for good")
    assert f"{message.id:>8}  purchase_paid" in listing and "FAILED" in listing
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
    ) as http:
        metrics = (await http.get("/metrics")).text
    assert "credits_outbox_failed 1.0" in metrics

    smtp.inbox.refuse = set()
    retried = _cli("outbox", "--retry", db=db)
    assert "1 failed notifications queued again" in retried
    dispatcher = InProcessDispatcher(smtp.settings())
    await relay_once(dispatcher)
    await dispatcher.drain()
    for owner in f.OWNERS:
        subjects = [str(r.message["Subject"]) for r in smtp.inbox.to(owner)]
        assert subjects.count("20,000 credits added to Data team") == 1, owner
    row = await OutboxMessage.get(id=message.id)
    assert row.failed_at is None and row.delivered_at is not None


async def test_retries_running_out_mark_the_row_failed(clock, smtp):
    message = await _purchase_paid()
    smtp.stop()  # the server is down: a temporary failure, retried
    settings = smtp.settings(mail_max_retries=1)
    for _ in range(2):
        with pytest.raises(Exception) as raised:
            await jobs.deliver_notification(message.id, settings=settings)
    assert raised.type is PermanentDeliveryError
    row = await OutboxMessage.get(id=message.id)
    assert row.attempts == 2 and row.failed_at is not None
    smtp.start()


def _cli(*args: str, db: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_mail_the_broker_lost_in_a_restart_reaches_everyone_once(
    db, redis_server, smtp, tmp_path
):
    """Redis restarted without persistence after the relay handed rows to it: the worker
    that starts afterwards finds them stale and sends them; nobody is emailed twice."""
    message = await _purchase_paid()
    env = {
        "REDIS_URL": redis_server.url,
        **smtp.worker_env(),
        "OUTBOX_REDISPATCH_SECONDS": "1",
        "OUTBOX_SWEEP_SECONDS": "0.5",
    }
    settings = smtp.settings(redis_url=redis_server.url, outbox_redispatch_seconds=1)
    assert await relay_once(BrokerDispatcher(settings), settings=settings) >= 1
    redis_server.stop()
    redis_server.start()  # empty: the queued deliveries are gone
    await asyncio.sleep(1.2)

    with credits_worker(db, env, tmp_path / "worker.log", processes=1):
        deadline = time.monotonic() + 40
        while not await OutboxMessage.filter(delivered_at__isnull=False).exists():
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # more sweeps: none may email again
    assert (await OutboxMessage.get(id=message.id)).delivered_at is not None
    for owner in f.OWNERS:
        subjects = [str(r.message["Subject"]) for r in smtp.inbox.to(owner)]
        assert subjects.count("20,000 credits added to Data team") == 1, owner


async def test_two_deployments_sharing_a_redis_database_keep_their_own_queues(redis_server):
    blue = f.mail_settings(redis_url=redis_server.url, redis_namespace="blue")
    green = f.mail_settings(redis_url=redis_server.url, redis_namespace="green")
    await BrokerDispatcher(blue).send(jobs.JobName.DELIVER_NOTIFICATION, 7)

    keys = {
        str(key) for key in redis.Redis.from_url(redis_server.url, decode_responses=True).keys("*")
    }
    assert keys and all(key.startswith("blue") for key in keys), keys
    green_broker = BrokerDispatcher(green).broker
    green_broker.declare_queue("mail")
    assert next(iter(green_broker.consume("mail", timeout=200))) is None
    blue_broker = BrokerDispatcher(blue).broker
    blue_broker.declare_queue("mail")
    received = next(iter(blue_broker.consume("mail", timeout=1000)))
    assert received is not None and received.args == (7,)


async def test_the_schedulers_lock_lives_in_the_namespace(redis_server):
    from workers.scheduler import tick_lock

    settings = f.mail_settings(redis_url=redis_server.url, redis_namespace="blue")
    assert await tick_lock(settings, "here").acquire("expire_lots@20260301T0015")
    keys = [
        str(key) for key in redis.Redis.from_url(redis_server.url, decode_responses=True).keys("*")
    ]
    assert keys == ["blue:tick:expire_lots@20260301T0015"]


async def test_any_fault_that_outlasts_the_retries_marks_the_row_failed(clock, smtp, monkeypatch):
    message = await _purchase_paid()

    async def broken_template(*args, **kwargs):
        raise RuntimeError("a template bug")

    monkeypatch.setattr("workers.mail.build_emails", broken_template)
    settings = smtp.settings(mail_max_retries=1)
    with pytest.raises(RuntimeError):
        await jobs.deliver_notification(message.id, settings=settings)
    assert (await OutboxMessage.get(id=message.id)).failed_at is None  # retried first
    with pytest.raises(PermanentDeliveryError):
        await jobs.deliver_notification(message.id, settings=settings)
    row = await OutboxMessage.get(id=message.id)
    assert row.failed_at is not None and "a template bug" in (row.last_error or "")


async def test_failed_notifications_are_listed_first(clock, smtp):
    await _purchase_paid()
    newest = await OutboxMessage.all().order_by("-id").first()
    assert newest is not None
    await jobs.mark_failed(newest.id, "refused")
    listing = (await list_undelivered(limit=2)).splitlines()
    assert listing[1].split()[0] == str(newest.id) and "FAILED" in listing[1]
