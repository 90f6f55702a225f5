"""The nightly expiry job and the expiry reminders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ledger import clock as app_clock
from ledger.accounts import create_account
from ledger.actors import Actor
from ledger.balances import available_credits, balance_of
from ledger.expiry import expire_due_lots, send_expiry_reminders, threshold_for
from ledger.purchases import purchase_credits
from ledger.users import sign_in
from models import ApprovalMode, EntryKind, LedgerEntry, Lot, OutboxMessage, ReminderSent
from tests.invariants import assert_ledger_invariants
from tests.ledger.helpers import redeem

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def _account_with_lots(email: str, clock, lots: list[tuple[int, int]]) -> int:
    """Lots of (credits, days after START)."""
    actor = Actor(user=await sign_in(sub=email, email=email, name=email))
    account = await create_account(actor=actor, name=None, approval_mode=ApprovalMode.AUTOMATIC)
    for i, (credits, day) in enumerate(lots):
        clock.set(START + timedelta(days=day))
        await purchase_credits(
            actor=actor,
            account_id=account.id,
            credits=credits,
            payment_token="tok_visa",
            idempotency_key=f"{email}-{i}",
        )
    return account.id


async def test_due_lots_expire_once_and_others_are_untouched(clock):
    first = await _account_with_lots("a@example.com", clock, [(100, 0), (200, 10), (300, 40)])
    second = await _account_with_lots("b@example.com", clock, [(50, 5)])
    clock.set(START + timedelta(days=365 + 20))  # the lots bought on days 0, 5 and 10 are due
    result = await expire_due_lots()
    assert (result.lots, result.credits, result.messages) == (3, 350, 2)
    assert (await expire_due_lots()).lots == 0  # a second run changes nothing
    expiries = await LedgerEntry.filter(kind=EntryKind.EXPIRY).order_by("id")
    assert sorted(e.credits for e in expiries) == [-200, -100, -50]
    assert {e.balance_after for e in expiries if e.account_id == first} == {300}
    assert (await balance_of(first)).available == 300
    assert (await balance_of(second)).available == 0
    assert (await Lot.get(credits=300)).remaining == 300
    messages = await OutboxMessage.filter(kind="credits_expired").order_by("id")
    assert [m.payload["account_id"] for m in messages] == sorted([first, second])
    await assert_ledger_invariants()


async def test_two_runs_at_once_expire_each_lot_once(clock):
    await _account_with_lots("a@example.com", clock, [(100, 0), (200, 1), (300, 2)])
    clock.set(START + timedelta(days=400))
    results = await asyncio.gather(expire_due_lots(batch_size=1), expire_due_lots(batch_size=1))
    assert sum(r.lots for r in results) == 3
    assert await LedgerEntry.filter(kind=EntryKind.EXPIRY).count() == 3
    # One account: one message, naming its three expiries, whichever run got there first.
    messages = await OutboxMessage.filter(kind="credits_expired")
    assert [sorted(m.payload["entry_ids"]) for m in messages] == [
        sorted(await LedgerEntry.filter(kind=EntryKind.EXPIRY).values_list("id", flat=True))
    ]
    await assert_ledger_invariants()


async def test_one_message_per_account_per_run_however_small_the_batches(clock):
    first = await _account_with_lots("a@example.com", clock, [(100, 0), (200, 1), (300, 2)])
    second = await _account_with_lots("b@example.com", clock, [(50, 0), (60, 200)])
    clock.set(START + timedelta(days=370))
    result = await expire_due_lots(batch_size=1)
    assert (result.lots, result.credits, result.messages) == (4, 650, 2)
    messages = await OutboxMessage.filter(kind="credits_expired").order_by("id")
    assert [(m.payload["account_id"], len(m.payload["entry_ids"])) for m in messages] == [
        (first, 3),
        (second, 1),
    ]
    assert {e.balance_after for e in await LedgerEntry.filter(kind=EntryKind.EXPIRY)} == {0, 60}


async def test_a_run_with_an_earlier_clock_than_the_last_entry_sums_the_lots(clock):
    """`expire-now` with a clock behind the ledger: balance_after is summed, not derived."""
    account = await _account_with_lots("a@example.com", clock, [(100, 0), (200, 30), (300, 400)])
    earlier = START + timedelta(days=380)  # before the day-400 purchase was written
    result = await expire_due_lots(now=earlier)
    assert (result.lots, result.credits) == (1, 100)
    entry = await LedgerEntry.get(kind=EntryKind.EXPIRY)
    assert entry.balance_after == 500  # the day-30 and day-400 lots are live at `earlier`
    assert await available_credits(account, earlier) == 500


@pytest.mark.parametrize(
    ("days_left", "threshold"),
    [(120, None), (90, 90), (45, 90), (30, 30), (8, 30), (7, 7), (1, 7)],
)
def test_threshold_is_the_nearest_crossed(days_left, threshold):
    now = START
    assert threshold_for(now + timedelta(days=days_left), now) == threshold


async def test_reminders_go_once_per_lot_and_threshold_and_late_runs_skip_ahead(clock):
    account = await _account_with_lots("a@example.com", clock, [(100, 0), (200, 0), (300, 100)])
    expiry = START + timedelta(days=365)
    clock.set(expiry - timedelta(days=89))
    first = await send_expiry_reminders()
    assert (first.messages, first.lots) == (1, 2)  # both day-0 lots, one message
    assert (await send_expiry_reminders()).messages == 0
    clock.set(expiry - timedelta(days=5))  # the 30-day run was missed: only the 7-day one
    late = await send_expiry_reminders()
    assert (late.messages, late.lots) == (1, 2)
    thresholds = sorted(r.threshold_days for r in await ReminderSent.all())
    assert thresholds == [7, 7, 90, 90]
    payloads = [
        m.payload for m in await OutboxMessage.filter(kind="credits_expiring").order_by("id")
    ]
    assert [(p["account_id"], p["threshold_days"], len(p["lot_ids"])) for p in payloads] == [
        (account, 90, 2),
        (account, 7, 2),
    ]


async def test_a_spent_lot_gets_no_reminder(clock):
    await _account_with_lots("a@example.com", clock, [(100, 0)])
    await Lot.all().update(remaining=0)
    clock.set(START + timedelta(days=360))
    assert (await send_expiry_reminders()).messages == 0


def test_clock_fixture_is_restored():
    assert app_clock.now().year >= 2026


async def test_expiry_racing_approvals_neither_spends_expired_credits_nor_loses_any(clock):
    from ledger.redemptions import decide_redemptions
    from models import Account, Course

    account_id = await _account_with_lots("a@example.com", clock, [(500, 0), (500, 30)])
    account = await Account.get(id=account_id)
    owner = Actor(user=await sign_in(sub="a@example.com", email="a@example.com", name="A"))
    await account.filter(id=account_id).update(approval_mode=ApprovalMode.MANUAL)
    course = await Course.create(
        sku="C", title="C", price_credits=40, created_at=clock.current, updated_at=clock.current
    )
    learner = Actor(user=await sign_in(sub="l", email="l@example.com", name="L"))
    ids = [(await redeem(learner, account, course, f"k{i}")).id for i in range(20)]
    clock.set(START + timedelta(days=366))  # the first lot is due, the second is not
    decisions = [decide_redemptions(actor=owner, ids=[i], approve=True) for i in ids]
    _, *results = await asyncio.gather(expire_due_lots(), *decisions)
    approved = sum(r.total_credits for r in results)  # type: ignore[attr-defined]
    assert approved == 480  # twelve 40-credit courses, all from the unexpired lot
    assert (await Lot.get(credits=500, purchased_at=START)).remaining == 0
    assert await LedgerEntry.filter(kind=EntryKind.EXPIRY).count() == 1
    assert (await LedgerEntry.get(kind=EntryKind.EXPIRY)).credits == -500
    await assert_ledger_invariants()


async def test_expiry_balance_after_is_exact_across_batches_and_history(clock):
    """balance_after of each EXPIRY entry equals the account's available balance."""
    from ledger.redemptions import decide_redemptions
    from ledger.support import adjust_credits, reverse_redemption
    from models import Account, Course

    first = await _account_with_lots(
        "a@example.com", clock, [(100, 0), (200, 3), (300, 9), (400, 200)]
    )
    second = await _account_with_lots("b@example.com", clock, [(50, 1), (70, 300)])
    support = Actor(user=await sign_in(sub="s", email="s@example.com", name="S"), is_support=True)
    owner = Actor(user=await sign_in(sub="a@example.com", email="a@example.com", name="A"))
    await Account.filter(id=first).update(approval_mode=ApprovalMode.MANUAL)
    course = await Course.create(
        sku="C", title="C", price_credits=150, created_at=clock.current, updated_at=clock.current
    )
    learner = Actor(user=await sign_in(sub="l", email="l@example.com", name="L"))
    account = await Account.get(id=first)
    ids = [(await redeem(learner, account, course, f"k{i}")).id for i in range(3)]
    await decide_redemptions(actor=owner, ids=ids, approve=True)
    await reverse_redemption(actor=support, redemption_id=ids[1], reason="refund")
    await adjust_credits(actor=support, account_id=second, credits=-20, reason="fix")
    clock.set(START + timedelta(days=365 + 30))  # day-0..9 lots are due; later ones are not
    result = await expire_due_lots(batch_size=1)
    assert result.lots == 3  # the day-0 lot was spent by the redemptions
    for account_id in (first, second):
        available = (await balance_of(account_id)).available
        entries = await LedgerEntry.filter(account_id=account_id, kind=EntryKind.EXPIRY)
        assert entries and {e.balance_after for e in entries} == {available}
    await assert_ledger_invariants()
