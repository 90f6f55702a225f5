"""The whole path: change → outbox row → relay → Redis → `credits worker` → SMTP.

A real worker process, a real redis-server (stopped and restarted by the test) and a
real SMTP server on loopback; the test drives the ledger and reads the SMTP inbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.accounts import add_owner, create_account, display_code, rotate_code
from ledger.actors import Actor
from ledger.db import atomic
from ledger.purchases import purchase_credits
from ledger.redemptions import decide_redemptions
from ledger.users import sign_in
from models import ApprovalMode, Course, EmailDelivery, OutboxMessage, Ownership, User
from tests.ledger.helpers import redeem

ROOT = Path(__file__).resolve().parents[2]
APPROVED = (
    "Hello Lee Learner, Your request to redeem 150 training credits for Jira Fundamentals"
    " has been approved."
)

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


@pytest.fixture
def worker(db, redis_server, smtp, tmp_path) -> Iterator[subprocess.Popen[bytes]]:
    process = _start_worker(_worker_env(db, redis_server, smtp), tmp_path / "worker.log")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    assert process.returncode in (0, -15), (tmp_path / "worker.log").read_text()


async def _eventually(check, within: float = 40.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def _team_with_pending_redemption():
    ann = Actor(user=await sign_in(sub="ann", email="ann@example.com", name="Ann Owner"))
    account = await create_account(actor=ann, name="Data", approval_mode=ApprovalMode.MANUAL)
    await add_owner(actor=ann, account_id=account.id, email="bob@example.com")
    await purchase_credits(
        actor=ann,
        account_id=account.id,
        credits=1_000,
        payment_token="tok_visa",
        idempotency_key="k",
    )
    now = account.created_at
    course = await Course.create(
        sku="JIRA-101", title="Jira Fundamentals", price_credits=150, created_at=now, updated_at=now
    )
    lee = Actor(user=await sign_in(sub="lee", email="lee@example.com", name="Lee Learner"))
    pending = await redeem(lee, account, course, "r")
    return ann, account, pending


async def test_an_approval_with_redis_down_is_emailed_once_redis_is_back(
    worker, redis_server, smtp
):
    ann, _account, pending = await _team_with_pending_redemption()
    # Everything so far goes out: purchase confirmation, owner added, redemption waiting.
    await _eventually(lambda: _all_delivered())
    before = len(smtp.inbox.received)

    redis_server.stop()
    decided = await decide_redemptions(actor=ann, ids=[pending.id], approve=True)
    assert decided.total_credits == 150  # the approval committed with the broker down
    await asyncio.sleep(1.5)
    approval = await OutboxMessage.get(kind="redemption_approved")
    assert approval.dispatched_at is None  # waiting for the broker
    assert len(smtp.inbox.received) == before

    redis_server.start()
    await _eventually(lambda: _all_delivered())
    learner_mail = smtp.inbox.to("lee@example.com")
    assert len(learner_mail) == 1
    assert APPROVED in learner_mail[0].message.get_body(("plain",)).get_content()
    for owner in ("ann@example.com", "bob@example.com"):
        copies = [
            r for r in smtp.inbox.to(owner) if str(r.message["Subject"]).startswith("Approved")
        ]
        assert len(copies) == 1, owner

    # The relay hands the same row over again: nobody is emailed twice.
    total = len(smtp.inbox.received)
    await OutboxMessage.filter(id=approval.id).update(dispatched_at=None, delivered_at=None)
    await _eventually(lambda: _dispatched(approval.id))
    await asyncio.sleep(1.5)
    assert len(smtp.inbox.received) == total


async def test_smtp_down_is_retried_and_delivered(worker, smtp):
    ann, account, _ = await _team_with_pending_redemption()
    await _eventually(lambda: _all_delivered())
    smtp.stop()
    await rotate_code(actor=ann, account_id=account.id)
    rotated = await OutboxMessage.get(kind="code_rotated")

    async def failed_once() -> bool:
        row = await OutboxMessage.get(id=rotated.id)
        return row.attempts >= 1 and row.last_error is not None

    await _eventually(failed_once)
    assert smtp.inbox.to("ann@example.com") == [] or all(
        "code" not in str(r.message["Subject"]).lower() for r in smtp.inbox.to("ann@example.com")
    )
    smtp.start()
    await _eventually(lambda: _all_delivered())
    new_code = display_code(await account.__class__.get(id=account.id))
    for owner in ("ann@example.com", "bob@example.com"):
        bodies = [r.message.get_body(("plain",)).get_content() for r in smtp.inbox.to(owner)]
        assert any(new_code in body for body in bodies), owner


async def test_a_change_that_rolls_back_sends_nothing(worker, smtp):
    ann = Actor(user=await sign_in(sub="ann", email="ann@example.com", name="Ann"))
    account = await create_account(actor=ann, name="Data", approval_mode=ApprovalMode.MANUAL)

    class Abort(Exception):
        pass

    async def rotate_then_fail() -> None:
        from ledger import outbox

        await outbox.enqueue("code_rotated", account_id=account.id, actor_id=ann.user_id)
        raise Abort

    with pytest.raises(Abort):
        await atomic(rotate_then_fail)
    await asyncio.sleep(1.5)
    assert await OutboxMessage.all().count() == 0
    assert smtp.inbox.received == []


async def _all_delivered() -> bool:
    return not await OutboxMessage.filter(delivered_at__isnull=True).exists()


async def _dispatched(message_id: int) -> bool:
    row = await OutboxMessage.get(id=message_id)
    return row.dispatched_at is not None and row.delivered_at is not None


async def test_a_worker_stopped_mid_delivery_records_what_it_sent(
    worker, smtp, db, redis_server, tmp_path
):
    """SIGTERM while the SMTP server is accepting a copy: the worker finishes that message
    and records it before closing the database, so its successor emails nobody twice."""
    smtp.inbox.delay = 1.0
    await _team_with_pending_redemption()
    await _eventually(lambda: _something_received(smtp))
    worker.terminate()
    worker.wait(timeout=30)
    assert worker.returncode in (0, -15)
    recorded = {
        (message_id, recipient)
        for message_id, recipient in await EmailDelivery.all().values_list(
            "message_id", "recipient"
        )
    }
    received = {(_outbox_id(r), rcpt) for r in smtp.inbox.received for rcpt in r.rcpt_tos}
    assert received and received <= recorded, received - recorded

    smtp.inbox.delay = 0.0
    successor = _start_worker(_worker_env(db, redis_server, smtp), tmp_path / "successor.log")
    try:
        await _eventually(lambda: _all_delivered())
    finally:
        successor.terminate()
        successor.wait(timeout=30)
    sent = [(_outbox_id(r), rcpt) for r in smtp.inbox.received for rcpt in r.rcpt_tos]
    assert len(sent) == len(set(sent)), sorted(sent)


async def _something_received(smtp) -> bool:
    return bool(smtp.inbox.received)


def _outbox_id(received) -> int:
    return int(str(received.message["Message-ID"]).split("-")[1])


def _worker_env(db, redis_server, smtp) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db, "REDIS_URL": redis_server.url, **smtp.worker_env()}


def _start_worker(
    env: dict[str, str], log_path: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--processes", "1", "--threads", "2"],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=new_session,  # a process group to kill -9 as a whole
    )


async def test_a_worker_killed_mid_batch_loses_nobody_and_resends_only_unrecorded_copies(
    db, redis_server, smtp, tmp_path
):
    """kill -9 while one notification goes to 200 owners: the next worker emails everyone
    the first did not record or note in its journal, and nobody else (decisions 28, 33)."""
    ann = Actor(user=await sign_in(sub="ann", email="ann@example.com", name="Ann Owner"))
    account = await create_account(actor=ann, name="Data", approval_mode=ApprovalMode.MANUAL)
    now = account.created_at
    for i in range(199):
        user = await User.create(email=f"owner{i:03}@example.com", created_at=now)
        await Ownership.create(account=account, user=user, created_at=now)
    await rotate_code(actor=ann, account_id=account.id)
    rotated = await OutboxMessage.get(kind="code_rotated")
    smtp.inbox.delay = 0.05
    notes = tmp_path / "journal"
    env = {**_worker_env(db, redis_server, smtp), "MAIL_LEASE_SECONDS": "2",
           "OUTBOX_REDISPATCH_SECONDS": "2", "OUTBOX_SWEEP_SECONDS": "0.5",
           "MAIL_JOURNAL_DIR": str(notes)}  # fmt: skip
    first = _start_worker(env, tmp_path / "killed.log", new_session=True)
    await _eventually(lambda: _received_at_least(smtp, 40))
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    received_at_kill = {a for r in smtp.inbox.received for a in r.rcpt_tos}
    recorded_at_kill = set(
        await EmailDelivery.filter(message_id=rotated.id).values_list("recipient", flat=True)
    )
    assert 40 <= len(received_at_kill) < 200 and recorded_at_kill <= received_at_kill
    noted_at_kill = {
        json.loads(line) for path in notes.iterdir() for line in path.read_text().splitlines()[1:]
    }
    assert recorded_at_kill <= noted_at_kill <= received_at_kill

    smtp.inbox.delay = 0.0
    successor = _start_worker(env, tmp_path / "successor.log")
    try:
        await _eventually(lambda: _all_delivered())
    finally:
        successor.terminate()
        successor.wait(timeout=30)
    copies = [a for r in smtp.inbox.received for a in r.rcpt_tos]
    owners = {"ann@example.com", *(f"owner{i:03}@example.com" for i in range(199))}
    assert set(copies) == owners  # nobody lost
    twice = {a for a in copies if copies.count(a) > 1}
    # Only a copy the server accepted but the killed worker had not yet read the answer
    # for can go out again (SMTP's at-least-once window); it keeps its Message-ID.
    assert twice <= received_at_kill - noted_at_kill, sorted(twice)
    assert await EmailDelivery.filter(message_id=rotated.id).count() == 200
    assert list(notes.iterdir()) == []  # imported by the successor, then removed


async def _received_at_least(smtp, count: int) -> bool:  # type: ignore[no-untyped-def]
    return len(smtp.inbox.received) >= count
