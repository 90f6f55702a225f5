"""Lists cost a small constant number of SQL statements, whatever the page size."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from ledger import clock
from models import Course, Redemption, RedemptionStatus, User
from tests.helpers import buy, create_account, gid, pk

REDEMPTIONS = """
query($first: Int) {
  redemptions(first: $first) {
    totalCount
    edges { node { id status credits requestedAt decidedAt reason
      course { id sku title priceCredits } learner { id email name } decidedBy { email }
      draws { credits lot { id expiresAt remaining } } } }
  }
}"""


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")):
            self.statements.append(message)


@contextmanager
def counting_sql() -> Iterator[_Counter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = _Counter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


async def _approved_redemptions(owner, count: int) -> None:
    account = await create_account(owner, approvalMode="MANUAL")
    for i in range(4):
        await buy(owner, 10_000, f"lot{i}")
    now = clock.now()
    courses = [
        await Course.create(
            sku=f"C{i}", title=f"Course {i}", price_credits=100 + i, created_at=now, updated_at=now
        )
        for i in range(7)
    ]
    learners = [
        await User.create(sub=f"s{i}", email=f"l{i}@example.com", name=f"L{i}", created_at=now)
        for i in range(13)
    ]
    for i in range(count):
        await Redemption.create(
            account_id=pk(account["id"]),
            learner=learners[i % 13],
            course=courses[i % 7],
            credits=courses[i % 7].price_credits,
            status=RedemptionStatus.PENDING,
            requested_at=now,
        )


async def test_listing_redemptions_is_not_n_plus_one(ann):
    await _approved_redemptions(ann, 100)
    approve = "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { totalCredits } }"
    rows = await Redemption.all().values_list("id", flat=True)
    ids = [gid("Redemption", int(str(i))) for i in rows]
    await ann.data(approve, {"ids": ids[-40:]})  # the newest: both pages have draws

    with counting_sql() as small:
        page = await ann.data(REDEMPTIONS, {"first": 5})
    with counting_sql() as large:
        page = await ann.data(REDEMPTIONS, {"first": 100})
    assert len(page["redemptions"]["edges"]) == 100
    assert all(edge["node"]["draws"] for edge in page["redemptions"]["edges"][:40])
    assert len(large.statements) == len(small.statements), large.statements
    assert len(large.statements) <= 10, large.statements


PORTAL_REDEMPTIONS = """
query { redemptions(first: 100) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id status credits requestedAt decidedAt
    course { id sku title } learner { id email name } } } } }"""
PORTAL_LOTS = """
query { lots(first: 100) { totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id credits remaining purchasedAt expiresAt status } } } }"""


async def test_the_portal_lists_cost_three_statements(ann):
    """The caller, their account, and the page with its count (course and learner
    joined)."""
    await _approved_redemptions(ann, 100)
    for query, field in ((PORTAL_REDEMPTIONS, "redemptions"), (PORTAL_LOTS, "lots")):
        with counting_sql() as sql:
            page = await ann.data(query)
        assert page[field]["edges"], field
        assert len(sql.statements) == 3, sql.statements
    listed = (await ann.data(PORTAL_REDEMPTIONS))["redemptions"]
    assert listed["totalCount"] == 100
    newest = listed["edges"][0]["node"]  # the 100th request: course C1, learner L8
    assert (newest["course"]["sku"], newest["learner"]["email"]) == ("C1", "l8@example.com")
