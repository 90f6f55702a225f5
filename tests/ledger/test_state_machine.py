"""The ledger as a state machine: random sequences of operations against an independent model.

Hypothesis drives the real ledger functions — card purchases (some declined), quotes
fulfilled or cancelled, approval settings, code rotations, catalogue changes,
redemptions, bulk approvals and denials by owners and support, cancellations,
idempotent retries, the clock moving forward (also to just before, at and just after a
lot's expiry), the expiry job, and support staff's reversals, extensions and
adjustments. After every step DESIGN.md's invariants hold and the database agrees with
`tests/ledger/model.py`: the balances, every lot, redemption, draw and quote, and the
balance after each account's latest ledger entry.

Hypothesis's stateful testing is synchronous while the ledger is async and bound to the
session's event loop: the machine runs in a worker thread and submits each coroutine to
the test's loop, which is free while the test awaits that thread.

A longer hunt: `STATE_MACHINE_EXAMPLES=1000 python -m pytest tests/ledger/test_state_machine.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ledger import payments, throttle
from ledger.accounts import create_account, display_code, rotate_code, update_account
from ledger.actors import Actor
from ledger.balances import balance_of
from ledger.clock import set_clock
from ledger.courses import upsert_course
from ledger.errors import LedgerError
from ledger.expiry import expire_due_lots
from ledger.purchases import purchase_credits
from ledger.quotes import cancel_quote, fulfil_quote, request_quote
from ledger.redemptions import cancel_redemption, decide_redemptions, redeem_credits
from ledger.support import adjust_credits, extend_lot, reverse_redemption
from ledger.users import sign_in
from models import ApprovalMode, Draw, LedgerEntry, Lot, QuoteRequest, Redemption
from tests.conftest import FrozenClock, truncate_all
from tests.invariants import assert_ledger_invariants
from tests.ledger import model as m

T = TypeVar("T")

STARTS = (
    datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    datetime(2028, 2, 28, 12, 0, tzinfo=UTC),  # lots bought on 29 Feb expire on 28 Feb
)
CATALOGUE = (("SKU-A", 25), ("SKU-B", 40), ("SKU-C", 150), ("SKU-D", 600))
ACCOUNTS = st.sampled_from((0, 1))
LEARNERS = st.sampled_from((0, 1))
COURSES = st.sampled_from(range(len(CATALOGUE)))
MODES = st.sampled_from((m.AUTOMATIC, m.MANUAL))
# The owner of the first redemption's account, the other account's owner, or support.
DECIDERS = st.sampled_from(("owner", "owner", "other owner", "support"))
CANCELLERS = st.sampled_from(("learner", "learner", "other learner"))
SOME_CREDITS = st.integers(1, 600)
CREDITS = st.one_of(
    SOME_CREDITS, SOME_CREDITS, SOME_CREDITS, st.sampled_from((0, 20_000, m.MAX_CREDITS + 1))
)
TOKENS = st.sampled_from(("tok_visa", "tok_visa", "tok_visa", "tok_chargeDeclined"))
STEPS = st.one_of(
    st.integers(1, 72).map(lambda hours: timedelta(hours=hours)),
    st.integers(1, 200).map(lambda days: timedelta(days=days)),
)
NEAR_EXPIRY = st.sampled_from((timedelta(seconds=-1), timedelta(0), timedelta(microseconds=1)))
UNKNOWN_ID = 999_999
STEP_TIMEOUT = 60.0

SETTINGS = settings(
    max_examples=int(os.environ.get("STATE_MACHINE_EXAMPLES", "40")),
    stateful_step_count=30,
    deadline=None,
    database=None,  # every run explores afresh; a failure prints its steps and a blob
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


async def _awaited(work: Awaitable[T]) -> T:
    return await work


def code_of(error: LedgerError | None) -> str | None:
    return error.code.value if error is not None else None


@dataclass(frozen=True)
class Sent:
    """A request whose answer the idempotency record keeps, to be sent again."""

    operation: str  # "purchase" or "redeem"
    actor: Actor
    key: str
    account: int
    value: int  # the credits bought, or the course's index
    credential: str  # the card's token, or the redemption code
    answer: int | str  # the purchase's or redemption's id, or the stored error code


class LedgerMachine(RuleBasedStateMachine):
    loop: ClassVar[asyncio.AbstractEventLoop | None] = None

    lots = Bundle("lots")
    redemptions = Bundle("redemptions")
    quotes = Bundle("quotes")

    def __init__(self) -> None:
        super().__init__()
        self.model = m.Ledger(now=STARTS[0])
        self.clock = FrozenClock(STARTS[0])
        self.keys = itertools.count()
        self.sent: list[Sent] = []
        self.account_ids: list[int] = []
        self.codes: list[str] = []
        self.course_ids: list[int] = []
        self.owners: list[Actor] = []
        self.learners: list[Actor] = []
        self._support: Actor | None = None
        self.seen_entry = 0  # the last ledger entry whose balance_after was checked

    # Bridging to the event loop

    def run(self, work: Awaitable[T]) -> T:
        """Await `work` on the test's loop and wait for it here, in hypothesis's thread."""
        assert self.loop is not None, "set LedgerMachine.loop to the test's running loop"
        return asyncio.run_coroutine_threadsafe(_awaited(work), self.loop).result(STEP_TIMEOUT)

    def attempt(self, work: Awaitable[T]) -> tuple[T | None, LedgerError | None]:
        """Run a ledger call whose business errors are an expected outcome."""
        try:
            return self.run(work), None
        except LedgerError as error:
            return None, error

    @property
    def support(self) -> Actor:
        assert self._support is not None
        return self._support

    def new_key(self) -> str:
        return f"key-{next(self.keys)}"

    def set_now(self, moment: datetime) -> None:
        self.clock.set(moment)
        self.model.now = moment

    def new_lot(self, account_id: int, credits: int) -> int:
        """Register the account's newest lot, which the last step must have added."""
        lot = self.run(Lot.filter(account_id=account_id).order_by("-id").first())
        assert lot is not None and lot.id not in self.model.lots, "no new lot"
        self.model.add_lot(lot.id, account_id, credits)
        return lot.id

    # Setting up: an empty database, two accounts, two learners, a catalogue

    @initialize(
        target=lots,
        start=st.sampled_from(STARTS),
        modes=st.tuples(MODES, MODES),
        opening=st.tuples(st.integers(0, 600), st.integers(0, 600)),
    )
    def open_accounts(
        self, start: datetime, modes: tuple[str, str], opening: tuple[int, int]
    ) -> Any:
        """Two accounts, each with an opening purchase unless it is of 0 credits."""
        set_clock(self.clock)
        self.set_now(start)
        # Both remember what they saw by our keys and user ids, which every example reuses.
        payments.set_gateway(payments.SandboxGateway())
        throttle.set_counter(throttle.MemoryCounter())
        self.run(self._open_accounts(modes))
        return multiple(*(self.buy(i, credits) for i, credits in enumerate(opening) if credits))

    async def _open_accounts(self, modes: tuple[str, str]) -> None:
        await truncate_all()

        async def actor(name: str, is_support: bool = False) -> Actor:
            user = await sign_in(sub=name, email=f"{name}@example.com", name=name.title())
            return Actor(user=user, is_support=is_support)

        self._support = await actor("support", is_support=True)
        self.learners = [await actor("learner0"), await actor("learner1")]
        for index, mode in enumerate(modes):
            owner = await actor(f"owner{index}")
            account = await create_account(actor=owner, name=None, approval_mode=ApprovalMode(mode))
            self.owners.append(owner)
            self.account_ids.append(account.id)
            self.codes.append(display_code(account))
            self.model.accounts[account.id] = m.Account(mode=mode)
        for sku, price in CATALOGUE:
            course = await upsert_course(
                actor=self.support, sku=sku, title=f"Course {sku}", price_credits=price
            )
            self.course_ids.append(course.id)
            self.model.courses[course.id] = m.Course(price=price)

    def teardown(self) -> None:
        set_clock(None)
        throttle.set_counter(None)

    # Owners

    @rule(target=lots, account=ACCOUNTS, credits=CREDITS, token=TOKENS)
    def purchase(self, account: int, credits: int, token: str) -> Any:
        lot = self.buy(account, credits, token)
        return multiple() if lot is None else lot

    def buy(self, account: int, credits: int, token: str = "tok_visa") -> int | None:
        """Buy by card: the new lot's id, or None if nothing was bought."""
        key, owner = self.new_key(), self.owners[account]
        bought, error = self.attempt(
            purchase_credits(
                actor=owner,
                account_id=self.account_ids[account],
                credits=credits,
                payment_token=token,
                idempotency_key=key,
            )
        )
        if not 1 <= credits <= m.MAX_CREDITS:
            assert code_of(error) == "INVALID_INPUT", error
            return None
        if token != "tok_visa":
            assert code_of(error) == "PAYMENT_DECLINED", error
            self.sent.append(
                Sent("purchase", owner, key, account, credits, token, "PAYMENT_DECLINED")
            )
            return None
        assert bought is not None, f"a purchase of {credits} failed: {error!r}"
        assert (bought.credits, bought.amount_cents) == (credits, m.price_cents(credits))
        assert bought.status.value == "PAID"
        self.sent.append(Sent("purchase", owner, key, account, credits, token, bought.id))
        return self.new_lot(self.account_ids[account], credits)

    @rule(target=quotes, account=ACCOUNTS, credits=st.integers(1, 600))
    def ask_for_quote(self, account: int, credits: int) -> int:
        account_id = self.account_ids[account]
        quote = self.run(
            request_quote(
                actor=self.owners[account], account_id=account_id, credits=credits, message="PO 1"
            )
        )
        self.model.quotes[quote.id] = m.Quote(account_id, credits)
        return quote.id

    @rule(target=lots, quote=quotes, fulfil=st.booleans())
    def settle_quote(self, quote: int, fulfil: bool) -> Any:
        """Support marks the invoice paid (a new lot), or the owner cancels the quote."""
        modelled = self.model.quotes[quote]
        owner = self.owners[self.account_ids.index(modelled.account)]
        work = (
            fulfil_quote(actor=self.support, quote_id=quote, invoice_number=f"INV-{quote}")
            if fulfil
            else cancel_quote(actor=owner, quote_id=quote, reason="changed our mind")
        )
        _, error = self.attempt(work)
        if modelled.status != m.OPEN:
            assert code_of(error) == "NOT_PENDING", error
            return multiple()
        assert error is None, error
        if not fulfil:
            modelled.status = m.CANCELLED
            return multiple()
        modelled.status = m.FULFILLED
        return self.new_lot(modelled.account, modelled.credits)

    @rule(account=ACCOUNTS, mode=MODES, limit=st.sampled_from((None, 40, 150)))
    def set_approval(self, account: int, mode: str, limit: int | None) -> None:
        self.run(
            update_account(
                actor=self.owners[account],
                account_id=self.account_ids[account],
                approval_mode=ApprovalMode(mode),
                auto_approve_limit=limit,
            )
        )
        self.model.accounts[self.account_ids[account]] = m.Account(mode, limit)

    @rule(account=ACCOUNTS)
    def rotate(self, account: int) -> None:
        """A new code; the old one stops working, requests made with it stay valid."""
        rotated = self.run(
            rotate_code(actor=self.owners[account], account_id=self.account_ids[account])
        )
        assert display_code(rotated) != self.codes[account]
        self.codes[account] = display_code(rotated)

    @precondition(lambda self: self.model.redemptions)
    @rule(
        ids=st.lists(redemptions, min_size=1, max_size=4),
        unknown=st.booleans(),
        decider=DECIDERS,
        approve=st.booleans(),
    )
    def decide(self, ids: list[int], unknown: bool, decider: str, approve: bool) -> None:
        """Approve or deny in bulk, as an owner (foreign ids are NOT_FOUND) or support."""
        ids = [*ids, UNKNOWN_ID] if unknown else ids
        account: int | None = None
        actor = self.support
        if decider != "support":
            index = self.account_ids.index(self.model.redemptions[ids[0]].account)
            index = 1 - index if decider == "other owner" else index
            actor, account = self.owners[index], self.account_ids[index]
        reason = None if approve else "not this quarter"
        result = self.run(decide_redemptions(actor=actor, ids=ids, approve=approve, reason=reason))
        expected = self.model.decide(account=account, ids=ids, approve=approve)
        assert [r.id for r in result.redemptions] == expected.decided
        assert result.total_credits == expected.total_credits
        errors = sorted((code_of(e) or "", int((e.field or ["", "-1"])[1])) for e in result.errors)
        assert errors == sorted(expected.errors)

    # Support staff

    @rule(course=COURSES, price=st.sampled_from((10, 25, 40, 150, 600)), active=st.booleans())
    def change_course(self, course: int, price: int, active: bool) -> None:
        sku = CATALOGUE[course][0]
        self.run(
            upsert_course(
                actor=self.support,
                sku=sku,
                title=f"Course {sku}",
                price_credits=price,
                active=active,
            )
        )
        self.model.courses[self.course_ids[course]] = m.Course(price=price, active=active)

    @rule(redemption=redemptions)
    def reverse(self, redemption: int) -> None:
        _, error = self.attempt(
            reverse_redemption(actor=self.support, redemption_id=redemption, reason="refund")
        )
        row = self.model.redemptions[redemption]
        if row.status != m.APPROVED:
            assert code_of(error) == "NOT_PENDING", error
            return
        assert error is None, error
        self.model.reverse(row)

    @rule(lot=lots, days=st.integers(-10, 365))
    def extend(self, lot: int, days: int) -> None:
        later = self.model.lots[lot].expires_at + timedelta(days=days)
        _, error = self.attempt(
            extend_lot(actor=self.support, lot_id=lot, expires_at=later, reason="goodwill")
        )
        if self.model.extension_refused(lot, later):
            assert code_of(error) == "INVALID_INPUT", error
            return
        assert error is None, error
        self.model.lots[lot].expires_at = later

    @rule(target=lots, account=ACCOUNTS, credits=st.integers(-400, 400))
    def adjust(self, account: int, credits: int) -> Any:
        """A positive adjustment is a new lot; a negative one takes credits in draw order."""
        account_id = self.account_ids[account]
        _, error = self.attempt(
            adjust_credits(
                actor=self.support, account_id=account_id, credits=credits, reason="goodwill"
            )
        )
        if credits == 0:
            assert code_of(error) == "INVALID_INPUT", error
            return multiple()
        if credits < 0:
            taken = self.model.take(account_id, -credits)
            assert code_of(error) == (None if taken is not None else "INSUFFICIENT_CREDITS"), error
            return multiple()
        assert error is None, error
        return self.new_lot(account_id, credits)

    # Learners

    @rule(target=redemptions, learner=LEARNERS, account=ACCOUNTS, course=COURSES)
    def redeem(self, learner: int, account: int, course: int) -> Any:
        key, actor, code = self.new_key(), self.learners[learner], self.codes[account]
        account_id, course_id = self.account_ids[account], self.course_ids[course]
        redemption, error = self.attempt(
            redeem_credits(actor=actor, code=code, course_id=course_id, idempotency_key=key)
        )
        offered = self.model.courses[course_id]
        if not offered.active:
            assert code_of(error) == "COURSE_UNAVAILABLE", error
            return multiple()
        at_once = self.model.approves_at_once(account_id, offered.price)
        if at_once and self.model.available(account_id) < offered.price:
            assert code_of(error) == "INSUFFICIENT_CREDITS", error
            self.sent.append(
                Sent("redeem", actor, key, account, course, code, "INSUFFICIENT_CREDITS")
            )
            return multiple()
        assert redemption is not None, f"the redemption failed: {error!r}"
        self.sent.append(Sent("redeem", actor, key, account, course, code, redemption.id))
        row = m.Redemption(
            redemption.id, account_id, learner, offered.price, m.PENDING, self.model.now
        )
        self.model.redemptions[row.id] = row
        if at_once:
            assert self.model.draw(row)
        assert (redemption.status.value, redemption.credits) == (row.status, row.credits)
        return row.id

    @rule(redemption=redemptions, who=CANCELLERS)
    def cancel(self, redemption: int, who: str) -> None:
        row = self.model.redemptions[redemption]
        learner = row.learner if who == "learner" else 1 - row.learner
        cancelled, error = self.attempt(
            cancel_redemption(actor=self.learners[learner], redemption_id=redemption)
        )
        if who != "learner":
            assert code_of(error) == "NOT_FOUND", error
        elif row.status != m.PENDING:
            assert code_of(error) == "NOT_PENDING", error
        else:
            assert cancelled is not None, error
            row.status = m.CANCELLED

    @precondition(lambda self: self.sent)
    @rule(pick=st.integers(0, 1000), conflicting=st.booleans())
    def send_again(self, pick: int, conflicting: bool) -> None:
        """The same key again: the first answer, or IDEMPOTENCY_CONFLICT for other input."""
        sent = self.sent[pick % len(self.sent)]
        expected = "IDEMPOTENCY_CONFLICT" if conflicting else sent.answer
        if sent.operation == "purchase":
            bought, error = self.attempt(
                purchase_credits(
                    actor=sent.actor,
                    account_id=self.account_ids[sent.account],
                    credits=sent.value + conflicting,
                    payment_token=sent.credential,
                    idempotency_key=sent.key,
                )
            )
            answer = bought.id if bought is not None else code_of(error)
        else:
            # Whether the course was withdrawn or the code rotated since changes nothing.
            course_id = self.course_ids[(sent.value + conflicting) % len(CATALOGUE)]
            redemption, error = self.attempt(
                redeem_credits(
                    actor=sent.actor,
                    code=sent.credential,
                    course_id=course_id,
                    idempotency_key=sent.key,
                )
            )
            answer = redemption.id if redemption is not None else code_of(error)
            if redemption is not None:
                assert redemption.status.value == self.model.redemptions[redemption.id].status
        assert answer == expected, f"{sent} sent again answered {answer!r}"

    # Time

    @rule(step=STEPS)
    def advance(self, step: timedelta) -> None:
        self.set_now(self.model.now + step)

    @rule(lot=lots, offset=NEAR_EXPIRY)
    def advance_to_expiry(self, lot: int, offset: timedelta) -> None:
        moment = self.model.lots[lot].expires_at + offset
        if moment > self.model.now:  # the clock only moves forward
            self.set_now(moment)

    @rule()
    def expire(self) -> None:
        result = self.run(expire_due_lots())
        assert (result.lots, result.credits, result.messages) == self.model.expire_due()

    # After every step

    @invariant()
    def agrees_with_model(self) -> None:
        self.run(self._agrees_with_model())

    async def _agrees_with_model(self) -> None:
        model = self.model
        await assert_ledger_invariants()
        for account_id in self.account_ids:
            balance = await balance_of(account_id)
            actual = (
                balance.available,
                balance.pending,
                balance.expiring_within_90_days,
                balance.next_expiry,
            )
            expected = (
                model.available(account_id),
                model.pending(account_id),
                model.expiring_soon(account_id),
                model.next_expiry(account_id),
            )
            assert actual == expected, f"account {account_id} at {model.now}: balance"
        lots = {
            lot.id: (lot.account_id, lot.credits, lot.remaining, lot.purchased_at, lot.expires_at)
            for lot in await Lot.all()
        }
        assert lots == model.lot_rows(), f"lots at {model.now}"
        redemptions = {
            r.id: (r.account_id, r.credits, r.status.value) for r in await Redemption.all()
        }
        assert redemptions == model.redemption_rows(), "redemptions"
        draws = Counter((d.redemption_id, d.lot_id, d.credits) for d in await Draw.all())
        assert draws == model.draw_rows(), "draws"
        quotes = {q.id: (q.account_id, q.credits, q.status.value) for q in await QuoteRequest.all()}
        assert quotes == model.quote_rows(), "quotes"
        # The newest entry of each account this step wrote says the balance after it.
        latest: dict[int, LedgerEntry] = {}
        for entry in await LedgerEntry.filter(id__gt=self.seen_entry).order_by("id"):
            latest[entry.account_id] = entry
            self.seen_entry = entry.id
        for account_id, entry in latest.items():
            assert entry.balance_after == model.available(account_id), f"{entry.kind} entry"


async def test_ledger_agrees_with_an_independent_model() -> None:
    LedgerMachine.loop = asyncio.get_running_loop()
    try:
        await asyncio.to_thread(run_state_machine_as_test, LedgerMachine, settings=SETTINGS)
    finally:
        LedgerMachine.loop = None
        set_clock(None)
        throttle.set_counter(None)


# What the machine found (fixed in 20a3576), pinned down.


async def _checkout_then_retry(clock: FrozenClock, change: str) -> tuple[int, int | str]:
    """A learner's checkout is approved; `change` happens; the client retries the same key."""
    owner = Actor(user=await sign_in(sub="o", email="o@example.com", name="O"))
    support = Actor(user=await sign_in(sub="s", email="s@example.com", name="S"), is_support=True)
    learner = Actor(user=await sign_in(sub="l", email="l@example.com", name="L"))
    account = await create_account(actor=owner, name=None, approval_mode=ApprovalMode.AUTOMATIC)
    await purchase_credits(
        actor=owner, account_id=None, credits=100, payment_token="tok_visa", idempotency_key="p"
    )
    course = await upsert_course(actor=support, sku="JIRA-101", title="Jira", price_credits=40)
    code = display_code(account)
    first = await redeem_credits(actor=learner, code=code, course_id=course.id, idempotency_key="c")
    if change == "course withdrawn":
        await upsert_course(
            actor=support, sku="JIRA-101", title="Jira", price_credits=40, active=False
        )
    else:
        await rotate_code(actor=owner, account_id=None)
    try:
        again = await redeem_credits(
            actor=learner, code=code, course_id=course.id, idempotency_key="c"
        )
    except LedgerError as error:
        return first.id, error.code.value
    return first.id, again.id


@pytest.mark.parametrize("change", ["course withdrawn", "code rotated"])
async def test_a_retried_checkout_answers_as_the_first_time(clock, change):
    """DESIGN.md invariant 4: the same key answers as the first time, whatever changed since."""
    first, again = await _checkout_then_retry(clock, change)
    assert again == first
