"""Redemptions through the ledger functions: the rows each path writes and its errors.

On PostgreSQL redeem, approve and deny run as one statement each (migration 0008); on
SQLite as the Python path. Both are held to the same expectations here.
"""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any

import pytest
from tortoise import connections

from ledger import redemptions, throttle
from ledger.accounts import create_account, rotate_code
from ledger.actors import Actor
from ledger.courses import upsert_course
from ledger.errors import InsufficientCredits, InvalidCode
from ledger.purchases import purchase_credits
from ledger.redemptions import decide_redemptions
from models import (
    Account,
    ApprovalMode,
    Course,
    Draw,
    EntryKind,
    IdempotencyRecord,
    LedgerEntry,
    OutboxMessage,
    Redemption,
    RedemptionStatus,
)
from tests.databases import postgres_url
from tests.invariants import assert_ledger_invariants
from tests.ledger.helpers import person, redeem

migration = importlib.import_module("models.migrations.0008_redemptions_in_one_statement")
later_migrations = [
    importlib.import_module(f"models.migrations.{name}")
    for name in ("0010_redeem_code_check", "0011_redeem_without_a_lock_round_trip")
]

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
postgres_only = pytest.mark.skipif(postgres_url() is None, reason="PostgreSQL's functions")


async def _shop(
    lots: list[int], mode: ApprovalMode = ApprovalMode.AUTOMATIC
) -> tuple[Actor, Account, Course]:
    owner = await person("ann@example.com")
    account = await create_account(actor=owner, name=None, approval_mode=mode)
    for i, credits in enumerate(lots):
        await purchase_credits(
            actor=owner, account_id=account.id, credits=credits, payment_token="tok_visa",
            idempotency_key=f"lot-{i}",
        )  # fmt: skip
    support = await person("support@example.com", support=True)
    course = await upsert_course(actor=support, sku="C-1", title="Course", price_credits=150)
    return owner, account, course


async def _rows(redemption_id: int) -> dict[str, Any]:
    """What one redemption wrote, without ids and times that differ between runs."""
    return {
        "draws": [(d.credits,) for d in await Draw.filter(redemption_id=redemption_id)],
        "entries": [
            (e.kind, e.credits, e.balance_after, e.actor_id, e.lot_id, e.reason, e.created_at)
            for e in await LedgerEntry.filter(redemption_id=redemption_id).order_by("id")
        ],
        "outbox": [
            (m.kind, m.payload, m.attempts, m.dispatched_at)
            for m in await OutboxMessage.filter(kind__startswith="redemption").order_by("id")
        ],
    }


async def test_an_automatic_approval_across_lots_writes_each_row(clock):
    _, account, course = await _shop([100, 100])
    learner = await person("lee@example.com")
    clock.advance(minutes=1)
    redemption = await redeem(learner, account, course, "k1")
    assert redemption.status is RedemptionStatus.APPROVED
    assert (redemption.credits, redemption.decided_by_id) == (150, None)
    assert redemption.requested_at == redemption.decided_at == clock()
    purchases = await LedgerEntry.filter(kind=EntryKind.PURCHASE).order_by("lot_id")
    first, second = [entry.lot_id for entry in purchases]
    assert await _rows(redemption.id) == {
        "draws": [(100,), (50,)],
        "entries": [
            (EntryKind.REDEMPTION, -100, 100, learner.user_id, first, None, clock()),
            (EntryKind.REDEMPTION, -50, 50, learner.user_id, second, None, clock()),
        ],
        "outbox": [("redemption_approved", {"redemption_id": redemption.id}, 0, None)],
    }
    record = await IdempotencyRecord.get(key="k1")
    assert (record.operation, record.response) == (
        "redeemCredits",
        {"redemption_id": redemption.id},
    )
    assert (await Redemption.get(id=redemption.id)).status is RedemptionStatus.APPROVED
    await assert_ledger_invariants()


async def test_a_refusal_is_stored_with_the_key_and_nothing_else(clock):
    owner, account, course = await _shop([100])
    learner = await person("lee@example.com")
    for _ in range(2):  # the first answer, then its replay
        with pytest.raises(InsufficientCredits) as refused:
            await redeem(learner, account, course, "k1")
        assert refused.value.message == redemptions.REFUSAL
    assert await Redemption.all().count() == 0
    assert await LedgerEntry.filter(kind=EntryKind.REDEMPTION).count() == 0
    assert await OutboxMessage.filter(kind__startswith="redemption").count() == 0
    await purchase_credits(
        actor=owner, account_id=account.id, credits=100, payment_token="tok_visa",
        idempotency_key="top-up",
    )  # fmt: skip
    with pytest.raises(InsufficientCredits):  # the key keeps its answer after a top-up
        await redeem(learner, account, course, "k1")
    assert (await redeem(learner, account, course, "k2")).status is RedemptionStatus.APPROVED
    await assert_ledger_invariants()


async def test_a_pending_request_is_recorded_and_replayed(clock):
    _, account, course = await _shop([100], mode=ApprovalMode.MANUAL)
    learner = await person("lee@example.com")
    first = await redeem(learner, account, course, "k1")
    again = await redeem(learner, account, course, "k1")
    assert (first.id, first.status) == (again.id, RedemptionStatus.PENDING)
    assert first.decided_at is None
    assert await _rows(first.id) == {
        "draws": [],
        "entries": [],
        "outbox": [("redemption_requested", {"redemption_id": first.id}, 0, None)],
    }


async def test_a_code_rotated_after_it_was_looked_up_is_refused_and_records_nothing(
    clock, monkeypatch
):
    owner, account, course = await _shop([1_000])
    learner = await person("lee@example.com")
    give_back = throttle.return_code_attempt

    async def rotate_then_give_back(*, user_id: int) -> None:
        # Between the code's look-up and the account's lock: another owner rotates it.
        await rotate_code(actor=owner, account_id=account.id)
        await give_back(user_id=user_id)

    monkeypatch.setattr(throttle, "return_code_attempt", rotate_then_give_back)
    with pytest.raises(InvalidCode):
        await redeem(learner, account, course, "k1")
    assert await Redemption.all().count() == 0
    assert await IdempotencyRecord.filter(key="k1").count() == 0  # not stored: a new try may
    await assert_ledger_invariants()


async def test_a_bulk_approval_answers_each_in_request_order(clock):
    owner, account, course = await _shop([400], mode=ApprovalMode.MANUAL)
    learner = await person("lee@example.com")
    pending = []
    for i in range(4):
        clock.advance(minutes=1)
        pending.append(await redeem(learner, account, course, f"k{i}"))
    ids = [pending[3].id, pending[1].id, pending[0].id, pending[2].id]
    clock.advance(minutes=1)
    decided = await decide_redemptions(actor=owner, ids=ids, approve=True)
    assert [r.id for r in decided.redemptions] == [pending[0].id, pending[1].id]
    assert decided.total_credits == 300
    assert [(e.code.value, e.field, e.message) for e in decided.errors] == [
        ("INSUFFICIENT_CREDITS", ["ids", "3"],
         "the account has 100 credits available; this needs 150"),
        ("INSUFFICIENT_CREDITS", ["ids", "0"],
         "the account has 100 credits available; this needs 150"),
    ]  # fmt: skip
    for row in decided.redemptions:
        assert (row.status, row.decided_at, row.decided_by_id) == (
            RedemptionStatus.APPROVED, clock(), owner.user_id,
        )  # fmt: skip
    balances = [
        e.balance_after for e in await LedgerEntry.filter(kind=EntryKind.REDEMPTION).order_by("id")
    ]
    assert balances == [250, 100]
    again = await decide_redemptions(actor=owner, ids=[pending[0].id], approve=False)
    assert [(e.code.value, e.message) for e in again.errors] == [
        ("NOT_PENDING", "this redemption is already approved")
    ]
    denied = await decide_redemptions(actor=owner, ids=[pending[2].id], approve=False, reason="no")
    assert [(r.status, r.reason) for r in denied.redemptions] == [(RedemptionStatus.DENIED, "no")]
    kinds = [m.kind for m in await OutboxMessage.filter(kind__startswith="redemption_d")]
    assert kinds == ["redemption_denied"]
    await assert_ledger_invariants()


async def _sql(statement: str, *values: Any) -> list[dict[str, Any]]:
    from ledger.sql import fetch

    return await fetch(statement, *values)


@postgres_only
async def test_the_functions_refuse_an_account_that_does_not_exist(clock):
    learner = await person("lee@example.com")
    with pytest.raises(Exception) as refused:
        await _sql(
            redemptions.REDEEM_SQL, learner.user_id, "redeemCredits", "k", "h", 999_999, "c",
            1, 10, clock(), "{}",
        )  # fmt: skip
    assert getattr(refused.value, "sqlstate", None) == redemptions.NO_ACCOUNT
    assert await IdempotencyRecord.all().count() == 0


@postgres_only
async def test_deciding_a_redemption_that_does_not_exist_answers_not_found(clock):
    owner = await person("ann@example.com")
    rows = await _sql(redemptions.DECIDE_SQL, [999_999], owner.user_id, True, None, clock())
    assert [(r["id"], r["outcome"]) for r in rows] == [(999_999, "NOT_FOUND")]


class _SchemaEditor:
    def __init__(self) -> None:
        self.client = connections.get("default")


@postgres_only
async def test_the_migration_drops_and_makes_its_functions(clock):
    names = "SELECT proname FROM pg_proc WHERE proname LIKE 'credits\\_%%' ORDER BY proname"
    made = ["credits_available_locked", "credits_decide", "credits_draw", "credits_redeem"]
    assert [r["proname"] for r in await _sql(names)] == made
    await migration.drop_functions(None, _SchemaEditor())
    try:
        assert await _sql(names) == []
    finally:
        await migration.create_functions(None, _SchemaEditor())
        for later in later_migrations:  # as migrated
            await later.replace_function(None, _SchemaEditor())
    assert [r["proname"] for r in await _sql(names)] == made


@pytest.mark.skipif(postgres_url() is not None, reason="SQLite only")
async def test_the_migration_does_nothing_on_sqlite(clock):
    await migration.create_functions(None, _SchemaEditor())
    await migration.drop_functions(None, _SchemaEditor())
