"""Review of the PostgreSQL functions of migration 0008 against the Python path.

What the rows test in `test_redemptions.py` cannot show from one connection: a function
that waited for the account lock, and what the functions take on trust from the caller.
Each concurrent test holds the account's lock in a second connection, starts the ledger
call, waits until PostgreSQL reports it waiting for that lock, then lets it go.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from ledger import codes, redemptions
from ledger.accounts import create_account, display_code
from ledger.actors import Actor
from ledger.courses import upsert_course
from ledger.errors import InsufficientCredits
from ledger.expiry import expire_due_lots
from ledger.idempotency import request_hash
from ledger.purchases import purchase_credits
from ledger.redemptions import decide_redemptions
from ledger.sql import fetch
from ledger.users import sign_in
from models import (
    Account,
    ApprovalMode,
    Course,
    Draw,
    EntryKind,
    LedgerEntry,
    Lot,
    Redemption,
    RedemptionStatus,
)
from tests.databases import postgres_url
from tests.invariants import assert_ledger_invariants
from tests.ledger.helpers import person, redeem

pytestmark = pytest.mark.skipif(
    postgres_url() is None, reason="row locks held by a second connection: PostgreSQL only"
)


async def _shop(
    clock: Any, lots: list[int], *, mode: ApprovalMode, price: int, days_apart: int = 0
) -> tuple[Actor, Account, Course]:
    owner = await person("ann@example.com")
    account = await create_account(actor=owner, name=None, approval_mode=mode)
    for i, credits in enumerate(lots):
        if i:
            clock.advance(days=days_apart)
        await purchase_credits(
            actor=owner, account_id=account.id, credits=credits, payment_token="tok_visa",
            idempotency_key=f"lot-{i}",
        )  # fmt: skip
    support = Actor(
        user=await sign_in(sub="sup", email="sup@example.com", name="S"), is_support=True
    )
    course = await upsert_course(actor=support, sku="C-1", title="Course", price_credits=price)
    return owner, account, course


@asynccontextmanager
async def _account_locked(db: str, account_id: int) -> AsyncIterator[asyncpg.Connection]:
    """A second connection holding the account's row lock in an open transaction; it
    commits on leaving the block."""
    conn = await asyncpg.connect(db.replace("postgres://", "postgresql://", 1))
    try:
        async with conn.transaction():
            await conn.execute("SELECT 1 FROM account WHERE id = $1 FOR NO KEY UPDATE", account_id)
            yield conn
    finally:
        await conn.close()


async def _until_waiting_for_a_lock(holder: asyncpg.Connection) -> None:
    """Until some other backend waits for a lock the holder has."""
    for _ in range(500):
        waiting = await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            await holder.fetchval("SELECT pg_backend_pid()"),
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the ledger call never waited for the account lock")


async def test_a_redemption_that_waited_for_the_account_sees_what_its_holder_drew(db, clock):
    """READ COMMITTED inside the function: the lots are read after the lock is granted."""
    _, account, course = await _shop(clock, [200], mode=ApprovalMode.AUTOMATIC, price=150)
    first, second = await person("lee@example.com"), await person("kim@example.com")
    async with _account_locked(db, account.id) as holder:
        # The holder redeems (the same function) in its open transaction.
        await holder.fetch(
            "SELECT * FROM credits_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            first.user_id, redemptions.REDEEM, "k1", "x", account.id, account.code_hash,
            course.id, 150, clock(), json.dumps({"error": {}}),
        )  # fmt: skip
        waiting = asyncio.create_task(redeem(second, account, course, "k2"))
        await _until_waiting_for_a_lock(holder)
    with pytest.raises(InsufficientCredits):  # 50 left, not the 200 it saw before waiting
        await waiting
    assert (await Lot.get(account_id=account.id)).remaining == 50
    await assert_ledger_invariants()


async def test_an_approval_that_waited_for_the_account_sees_what_its_holder_drew(db, clock):
    owner, account, course = await _shop(clock, [200], mode=ApprovalMode.MANUAL, price=150)
    learner = await person("lee@example.com")
    pending = [await redeem(learner, account, course, f"k{i}") for i in range(2)]
    async with _account_locked(db, account.id) as holder:
        await holder.fetch(
            "SELECT * FROM credits_decide($1, $2, $3, $4, $5)",
            [pending[0].id], owner.user_id, True, None, clock(),
        )  # fmt: skip
        waiting = asyncio.create_task(
            decide_redemptions(actor=owner, ids=[p.id for p in pending], approve=True)
        )
        await _until_waiting_for_a_lock(holder)
    decided = await waiting
    assert decided.redemptions == []
    assert [(e.code.value, e.message) for e in decided.errors] == [
        ("NOT_PENDING", "this redemption is already approved"),
        ("INSUFFICIENT_CREDITS", "the account has 50 credits available; this needs 150"),
    ]
    await assert_ledger_invariants()


async def test_a_redemption_decides_at_the_time_it_holds_the_account(db, clock):
    """The Python path reads the clock once it holds the account lock (`_record_request`);
    `credits_redeem` decides no earlier than the account's last entry (migration 0011):
    either way its `now` is never earlier than that of the transaction it waited for.
    Here real time passes the first lot's expiry while the redemption waits for the lock."""
    _, account, course = await _shop(
        clock, [100, 100], mode=ApprovalMode.AUTOMATIC, price=50, days_apart=30
    )
    soon, later = await Lot.filter(account_id=account.id).order_by("expires_at")
    learner, other = await person("lee@example.com"), await person("kim@example.com")
    clock.set(soon.expires_at - timedelta(minutes=1))  # the first lot is still live
    async with _account_locked(db, account.id) as holder:
        waiting = asyncio.create_task(redeem(learner, account, course, "k1"))
        await _until_waiting_for_a_lock(holder)
        # Two minutes pass; the holder redeems now, when the first lot has expired.
        clock.set(soon.expires_at + timedelta(minutes=1))
        await holder.fetch(
            "SELECT * FROM credits_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            other.user_id, redemptions.REDEEM, "k2", "x", account.id, account.code_hash,
            course.id, 50, clock(), json.dumps({"error": {}}),
        )  # fmt: skip
    redemption = await waiting
    drawn = [d.lot_id for d in await Draw.filter(redemption_id=redemption.id)]
    assert drawn == [later.id]  # the first lot had expired when it got the account
    assert redemption.requested_at == clock()
    entries = await LedgerEntry.filter(account_id=account.id).order_by("id")
    times = [e.created_at for e in entries]
    assert times == sorted(times)  # the ledger's order is the order of its times


def _call_redeem(learner: Actor, account: Account, course: Course, key: str, now: Any) -> Any:
    """`credits_redeem` as `redeemCredits` calls it, with the time the request read before
    it waited for the account."""
    code_hash = codes.lookup_hash(display_code(account))
    payload = {"code_hash": code_hash, "course_id": course.id}
    return fetch(
        redemptions.REDEEM_SQL, learner.user_id, redemptions.REDEEM, key, request_hash(payload),
        account.id, code_hash, course.id, course.price_credits, now, "{}",
    )  # fmt: skip


async def test_a_redemption_is_never_dated_before_the_purchase_of_the_lot_it_draws(clock):
    """The expiry job dates a run's entries at its start, so the account's last entry by id
    may be older than the one before it: the decision takes the latest by time."""
    owner, account, course = await _shop(clock, [100], mode=ApprovalMode.AUTOMATIC, price=50)
    clock.advance(days=367)
    job_started = clock()  # the nightly job read its clock
    clock.advance(minutes=1)
    read_before_waiting = clock()  # a learner's request read its own, then waited ...
    clock.advance(minutes=1)
    await purchase_credits(
        actor=owner, account_id=account.id, credits=100, payment_token="tok_visa",
        idempotency_key="later",
    )  # fmt: skip  # ... behind a purchase ...
    assert (await expire_due_lots(now=job_started)).lots == 1  # ... and the job's batch
    learner = await person("lee@example.com")
    (row,) = await _call_redeem(learner, account, course, "k1", read_before_waiting)
    (draw,) = await Draw.filter(redemption_id=row["id"])
    bought = (await Lot.get(id=draw.lot_id)).purchased_at
    assert row["requested_at"] == bought  # decided once the purchase was in the ledger
    redeemed = await LedgerEntry.get(redemption_id=row["id"])
    assert redeemed.created_at == max(
        e.created_at for e in await LedgerEntry.filter(account_id=account.id)
    )


async def test_a_redemption_is_never_dated_before_the_request_it_waited_behind(db, clock):
    """A PENDING request writes no entry; the next decision is not dated before it."""
    _, account, course = await _shop(clock, [100], mode=ApprovalMode.MANUAL, price=50)
    learner, other = await person("lee@example.com"), await person("kim@example.com")
    read_before_waiting = clock()
    async with _account_locked(db, account.id) as holder:
        waiting = asyncio.create_task(
            _call_redeem(learner, account, course, "k1", read_before_waiting)
        )
        await _until_waiting_for_a_lock(holder)
        clock.advance(minutes=2)
        (held,) = await holder.fetch(
            "SELECT * FROM credits_redeem($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            other.user_id, redemptions.REDEEM, "k2", "x", account.id, account.code_hash,
            course.id, 50, clock(), json.dumps({"error": {}}),
        )  # fmt: skip
    (row,) = await waiting
    assert held["status"] == row["status"] == "PENDING"
    assert row["id"] < held["id"]  # its id was taken before it waited
    assert held["requested_at"] == row["requested_at"] == clock()  # not the time it read


async def test_the_code_check_does_not_pass_a_missing_code_hash(clock):
    """`credits_redeem` re-checks the code under the lock; a NULL hash from a caller must
    not skip that check (`<>` with NULL is not true)."""
    _, account, course = await _shop(clock, [200], mode=ApprovalMode.AUTOMATIC, price=150)
    learner = await person("lee@example.com")
    payload = {"code_hash": None, "course_id": course.id}
    with pytest.raises(Exception) as refused:
        await fetch(
            redemptions.REDEEM_SQL, learner.user_id, redemptions.REDEEM, "k1",
            request_hash(payload), account.id, None, course.id, 150, clock(), "{}",
        )  # fmt: skip
    assert getattr(refused.value, "sqlstate", None) == redemptions.CODE_ROTATED
    assert await Redemption.all().count() == 0
    assert await LedgerEntry.filter(kind=EntryKind.REDEMPTION).count() == 0


async def test_a_pending_request_beyond_the_balance_is_recorded(clock):
    """MANUAL without a limit covering it: PENDING even beyond the balance (DESIGN.md)."""
    _, account, course = await _shop(clock, [100], mode=ApprovalMode.MANUAL, price=150)
    account.auto_approve_limit = 149
    await account.save(update_fields=["auto_approve_limit"])
    learner = await person("lee@example.com")
    redemption = await redeem(learner, account, course, "k1")
    assert redemption.status is RedemptionStatus.PENDING
    account.auto_approve_limit = 150  # now within the limit: approved at once, or refused
    await account.save(update_fields=["auto_approve_limit"])
    with pytest.raises(InsufficientCredits):
        await redeem(learner, account, course, "k2")
    rows = await fetch("SELECT count(*) AS n FROM redemption")
    assert rows[0]["n"] == 1
    await assert_ledger_invariants()


class _SchemaEditor:
    def __init__(self) -> None:
        from tortoise import connections

        self.client = connections.get("default")


async def test_migrations_0010_and_0011_restore_and_replace_the_function(clock):
    """Down, each migration puts back the function before it (0011 drops its indexes too);
    up, its own."""
    code_check, own_time = (
        importlib.import_module(f"models.migrations.{name}")
        for name in ("0010_redeem_code_check", "0011_redeem_without_a_lock_round_trip")
    )
    source = "SELECT prosrc FROM pg_proc WHERE proname = 'credits_redeem'"
    indexes = (
        "SELECT count(*) AS n FROM pg_indexes"
        " WHERE indexname IN ('ledger_entry_account_time', 'redemption_account_time')"
    )
    own = "max(created_at) FROM ledger_entry"

    async def function() -> str:
        return str((await fetch(source))[0]["prosrc"])

    async def time_indexes() -> int:
        return int((await fetch(indexes))[0]["n"])

    assert own in await function() and await time_indexes() == 2
    await own_time.restore_function(None, _SchemaEditor())
    try:
        assert own not in await function() and await time_indexes() == 0
        assert "IS DISTINCT FROM p_code_hash" in await function()
        await code_check.restore_function(None, _SchemaEditor())
        assert "code_hash <> p_code_hash" in await function()
    finally:
        await code_check.replace_function(None, _SchemaEditor())
        await own_time.replace_function(None, _SchemaEditor())
    assert own in await function() and await time_indexes() == 2
    assert "IS DISTINCT FROM p_code_hash" in await function()
