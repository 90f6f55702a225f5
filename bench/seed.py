"""The API benchmark's data, made through the ledger's own functions.

One account to read ("reads": lots of many ages, some depleted and some expiring within
90 days; approved redemptions with draws and pending ones, by many learners, of many
courses) and, for `redeemCredits`, one account per server measured (the service and
the baseline, with its new and its old statements, redeem from accounts seeded alike, so
each is checked for overspend on its own). The clock is moved back while seeding so that
lots and redemptions have ages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger import accounts, clock, courses, purchases, redemptions
from ledger.actors import Actor
from ledger.users import sign_in
from models import Account, ApprovalMode, Course

TARGETS = ("service", "baseline")
# redeem also runs the baseline with the statements from before issue 14
REDEEM_TARGETS = (*TARGETS, "baseline-old")
READ_LOTS = 120
READ_LOT_CREDITS = 5_000
APPROVED = 130
PENDING = 20
CATALOGUE = 30
REDEEM_LOTS = 10
REDEEM_LOT_CREDITS = 100_000
REDEEM_PRICE = 10


@dataclass(frozen=True)
class Person:
    sub: str
    email: str
    name: str


@dataclass
class Seed:
    owner: Person
    learners: list[Person]
    reads_account_id: int = 0
    redeem_course_id: int = 0
    redeem_codes: dict[str, str] = field(default_factory=dict)
    redeem_account_ids: dict[str, int] = field(default_factory=dict)


def person(role: str, index: int = 0) -> Person:
    handle = f"{role}{index}"
    return Person(sub=f"bench|{handle}", email=f"{handle}@bench.example", name=handle.title())


@contextmanager
def clock_at(moment: datetime) -> Iterator[None]:
    clock.set_clock(lambda: moment)
    try:
        yield
    finally:
        clock.set_clock(None)


async def actor(who: Person, *, support: bool = False) -> Actor:
    user = await sign_in(sub=who.sub, email=who.email, name=who.name)
    return Actor(user=user, is_support=support)


async def catalogue(support: Actor) -> list[Course]:
    return [
        await courses.upsert_course(
            actor=support, sku=f"BENCH-{i:03}", title=f"Course {i}", price_credits=50 + 25 * i
        )
        for i in range(CATALOGUE)
    ]


async def buy_lots(
    owner: Actor, account: Account, *, lots: int, credits: int, since: datetime
) -> None:
    """`lots` purchases spread evenly from `since` to now (older lots expire sooner)."""
    step = (clock.now() - since) / lots
    for i in range(lots):
        with clock_at(since + i * step):
            await purchases.purchase_credits(
                actor=owner, account_id=account.id, credits=credits, payment_token="tok_visa",
                idempotency_key=f"bench-lot-{account.id}-{i}",
            )  # fmt: skip


async def redeem(learner: Actor, account: Account, course: Course, key: str, at: datetime) -> None:
    with clock_at(at):
        await redemptions.redeem_credits(
            actor=learner, code=accounts.display_code(account), course_id=course.id,
            idempotency_key=key,
        )  # fmt: skip


async def reads_account(owner: Actor, learners: list[Actor], catalogue_: list[Course]) -> int:
    """Lots bought over the last 330 days, APPROVED redemptions, then PENDING ones."""
    account = await accounts.create_account(
        actor=owner, name="Reads", approval_mode=ApprovalMode.AUTOMATIC
    )
    now = clock.now()
    await buy_lots(
        owner, account, lots=READ_LOTS, credits=READ_LOT_CREDITS, since=now - timedelta(days=330)
    )
    for i in range(APPROVED + PENDING):
        if i == APPROVED:
            await accounts.update_account(
                actor=owner, account_id=account.id, approval_mode=ApprovalMode.MANUAL
            )
        learner, course = learners[i % len(learners)], catalogue_[i % len(catalogue_)]
        at = now - timedelta(hours=12) + timedelta(minutes=i)
        await redeem(learner, account, course, f"bench-read-{i}", at)
    return account.id


async def redeem_account(owner: Actor) -> Account:
    account = await accounts.create_account(
        actor=owner, name="Checkout", approval_mode=ApprovalMode.AUTOMATIC
    )
    since = clock.now() - timedelta(hours=REDEEM_LOTS)
    await buy_lots(owner, account, lots=REDEEM_LOTS, credits=REDEEM_LOT_CREDITS, since=since)
    return account


async def seed(clients: int) -> Seed:
    """Everything the scenarios need; `clients` learners redeem at once."""
    support = await actor(person("support"), support=True)
    catalogue_ = await catalogue(support)
    learner_people = [person("learner", i) for i in range(max(clients, 20))]
    learners = [await actor(p) for p in learner_people]
    owner = person("owner")
    result = Seed(owner=owner, learners=learner_people)
    result.reads_account_id = await reads_account(await actor(owner), learners[:20], catalogue_)
    result.redeem_course_id = (
        await courses.upsert_course(
            actor=support, sku="BENCH-CHECKOUT", title="Checkout", price_credits=REDEEM_PRICE
        )
    ).id
    for target in REDEEM_TARGETS:
        account = await redeem_account(await actor(person(f"owner-{target}-")))
        result.redeem_codes[target] = accounts.display_code(account)
        result.redeem_account_ids[target] = account.id
    return result
