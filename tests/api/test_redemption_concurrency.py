"""Redemptions under concurrency, through a running server, checked in SQL afterwards."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from models import Draw, LedgerEntry, Lot, Redemption, RedemptionStatus
from tests.helpers import buy, create_account, gid, redeem, upsert_course
from tests.invariants import assert_ledger_invariants

APPROVE = """
mutation($ids: [ID!]!) {
  approveRedemptions(input: {ids: $ids}) { totalCredits errors { code } }
}"""
DENY = """
mutation($ids: [ID!]!) {
  denyRedemptions(input: {ids: $ids}) { redemptions { id } errors { code } }
}"""
ADD = """
mutation($email: String!) { addAccountOwner(input: {email: $email}) { errors { code } } }"""


async def _funded_account(owner, lots: list[int], mode: str = "AUTOMATIC") -> str:
    account = await create_account(owner, approvalMode=mode)
    for i, credits in enumerate(lots):
        assert (await buy(owner, credits, f"lot-{i}"))["errors"] == []
    return str(account["redemptionCode"])


async def test_200_concurrent_redemptions_against_a_balance_for_50(http_factory, server):
    owner = http_factory("owner@example.com")
    support = http_factory("support@example.com", support=True)
    course = await upsert_course(support, "C-100", "Course", 100)
    code = await _funded_account(owner, [1_000, 1_500, 2_500])  # 5,000 = 50 courses at 100
    learners = [http_factory(f"learner{i}@example.com") for i in range(200)]
    answers = await asyncio.gather(
        *[redeem(learner, code, course["id"], "once") for learner in learners]
    )
    outcomes = [
        a["redemption"]["status"] if a["redemption"] else a["errors"][0]["code"] for a in answers
    ]
    assert outcomes.count("APPROVED") == 50
    assert outcomes.count("INSUFFICIENT_CREDITS") == 150
    assert await Redemption.filter(status=RedemptionStatus.APPROVED).count() == 50
    assert await Redemption.all().count() == 50  # nothing recorded for the refused
    assert sum(lot.remaining for lot in await Lot.all()) == 0
    assert sum(d.credits for d in await Draw.all()) == 5_000
    await assert_ledger_invariants()


async def test_approve_and_deny_racing_on_one_redemption_one_wins(http_factory):
    ann = http_factory("ann@example.com")
    support = http_factory("support@example.com", support=True)
    course = await upsert_course(support, "C-10", "Course", 10)
    code = await _funded_account(ann, [10_000], mode="MANUAL")
    await ann.mutate("addAccountOwner", ADD, {"email": "bob@example.com"})
    bob = http_factory("bob@example.com")
    learner = http_factory("lee@example.com")
    ids = [
        (await redeem(learner, code, course["id"], f"r{i}"))["redemption"]["id"] for i in range(20)
    ]
    calls = []
    for rid in ids:
        calls.append(ann.mutate("approveRedemptions", APPROVE, {"ids": [rid]}))
        calls.append(bob.mutate("denyRedemptions", DENY, {"ids": [rid]}))
    results = await asyncio.gather(*calls)
    for approve, deny in zip(results[::2], results[1::2], strict=True):
        wins = [approve["totalCredits"] == 10, deny["redemptions"] != []]
        assert wins.count(True) == 1, (approve, deny)
        loser = approve if not wins[0] else deny
        assert loser["errors"] == [{"code": "NOT_PENDING"}]
    approved = await Redemption.filter(status=RedemptionStatus.APPROVED).count()
    denied = await Redemption.filter(status=RedemptionStatus.DENIED).count()
    assert approved + denied == 20
    assert await LedgerEntry.filter(kind="REDEMPTION").count() == approved
    await assert_ledger_invariants()


async def test_redemptions_and_approvals_across_lots_and_accounts_never_deadlock(http_factory):
    support = http_factory("support@example.com", support=True)
    courses = [await upsert_course(support, f"C-{p}", f"Course {p}", p) for p in (30, 70, 150)]
    accounts = []
    for i in range(3):
        owner = http_factory(f"owner{i}@example.com")
        code = await _funded_account(
            owner, [200, 300, 400, 500], mode=("AUTOMATIC", "MANUAL")[i % 2]
        )
        accounts.append((owner, code))
    learners = [http_factory(f"l{i}@example.com") for i in range(30)]
    rng = random.Random(7)

    async def learner_round(learner, n: int) -> list[dict[str, Any]]:
        out = []
        for j in range(n):
            _, code = rng.choice(accounts)
            out.append(await redeem(learner, code, rng.choice(courses)["id"], f"{j}"))
        return out

    rounds = await asyncio.gather(*[learner_round(learner, 4) for learner in learners])
    pending = await Redemption.filter(status=RedemptionStatus.PENDING).values_list(
        "id", "account_id"
    )
    by_account: dict[int, list[str]] = {}
    for rid, account_id in pending:
        by_account.setdefault(account_id, []).append(gid("Redemption", rid))
    owner_by_index = {i + 1: accounts[i][0] for i in range(3)}
    decisions = await asyncio.gather(
        *[
            owner_by_index[account_id].mutate("approveRedemptions", APPROVE, {"ids": ids[k::2]})
            for account_id, ids in by_account.items()
            for k in range(2)
        ]
    )
    every_code = {a["errors"][0]["code"] for r in rounds for a in r if a["errors"]}
    every_code |= {e["code"] for d in decisions for e in d["errors"]}
    assert every_code <= {"INSUFFICIENT_CREDITS"}, every_code  # no INTERNAL, no deadlock
    await assert_ledger_invariants()


async def test_one_idempotency_key_sent_at_once_makes_one_redemption(http_factory):
    owner = http_factory("owner@example.com")
    support = http_factory("support@example.com", support=True)
    course = await upsert_course(support, "C-5", "Course", 5)
    code = await _funded_account(owner, [100])
    learner = http_factory("lee@example.com")
    answers = await asyncio.gather(
        *[redeem(learner, code, course["id"], "same") for _ in range(10)]
    )
    assert all(a == answers[0] for a in answers)
    assert await Redemption.all().count() == 1
    assert sum(lot.remaining for lot in await Lot.all()) == 95
