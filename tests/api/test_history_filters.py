"""History filters in the API: transactions by kind and day, redemptions by status, day
and learner; and partial answers when one root field fails."""

from __future__ import annotations

from tests.helpers import buy, create_account, redeem, upsert_course

TRANSACTIONS = """
query($kind: TransactionKind, $from: Date, $to: Date) {
  transactions(kind: $kind, from: $from, to: $to) {
    totalCount edges { node { kind credits createdAt } }
  }
}"""
REDEMPTIONS = """
query($status: RedemptionStatus, $from: Date, $to: Date, $email: String) {
  redemptions(status: $status, from: $from, to: $to, learnerEmail: $email) {
    totalCount edges { node { status credits learner { email } requestedAt } }
  }
}"""


async def _history(ann, support, client_factory, clock):
    account = await create_account(ann, name="Data", approvalMode="AUTOMATIC")
    await buy(ann, 1_000, "p1")  # 2026-03-01
    course = await upsert_course(support, "JIRA-101", "Jira Fundamentals", 150)
    lee = client_factory("lee@example.com", "Lee Learner")
    kim = client_factory("kim@example.com", "Kim Learner")
    clock.advance(days=3)  # 2026-03-04
    await redeem(lee, account["redemptionCode"], course["id"], "r1")
    clock.advance(days=3)  # 2026-03-07
    await redeem(kim, account["redemptionCode"], course["id"], "r2")
    await buy(ann, 500, "p2")
    return account


async def test_transactions_by_kind_and_days(ann, support, client_factory, clock):
    await _history(ann, support, client_factory, clock)
    purchases = (await ann.data(TRANSACTIONS, {"kind": "PURCHASE"}))["transactions"]
    assert purchases["totalCount"] == 2
    assert [e["node"]["credits"] for e in purchases["edges"]] == [500, 1_000]
    march_4 = await ann.data(TRANSACTIONS, {"from": "2026-03-04", "to": "2026-03-04"})
    assert [e["node"]["kind"] for e in march_4["transactions"]["edges"]] == ["REDEMPTION"]
    since = await ann.data(TRANSACTIONS, {"kind": "REDEMPTION", "from": "2026-03-05"})
    assert since["transactions"]["totalCount"] == 1
    backwards = await ann.post(TRANSACTIONS, {"from": "2026-03-07", "to": "2026-03-01"})
    assert backwards["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_redemptions_by_status_days_and_learner(ann, support, client_factory, clock):
    await _history(ann, support, client_factory, clock)
    lees = (await ann.data(REDEMPTIONS, {"email": " Lee@Example.com "}))["redemptions"]
    assert [e["node"]["learner"]["email"] for e in lees["edges"]] == ["lee@example.com"]
    week = await ann.data(REDEMPTIONS, {"status": "APPROVED", "from": "2026-03-05"})
    assert [e["node"]["learner"]["email"] for e in week["redemptions"]["edges"]] == [
        "kim@example.com"
    ]
    nobody = await ann.data(REDEMPTIONS, {"email": "nobody@example.com"})
    assert nobody["redemptions"]["totalCount"] == 0
    bad = await ann.post(REDEMPTIONS, {"email": "not an address"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"


async def test_a_failing_root_field_leaves_the_others_answered(client_factory):
    newcomer = client_factory("new@example.com", "New Comer")
    body = await newcomer.post("{ viewer { user { email } } balance { available } }")
    assert body["data"] == {"viewer": {"user": {"email": "new@example.com"}}, "balance": None}
    (error,) = body["errors"]
    assert error["path"] == ["balance"] and error["extensions"]["code"] == "NOT_FOUND"
