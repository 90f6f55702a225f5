"""Approving 100 pending redemptions in one call, on PostgreSQL (issue 14: < 150 ms).

    python -m bench.decide [--batch 100] [--repeat 7]

A throwaway database, migrated like the service's; one MANUAL account with enough
credits in 10 lots, and for each measured call `--batch` new PENDING requests by 20
learners. Timed, each `--repeat` times on fresh requests:

- `approveRedemptions` as a client sends it, through the service's ASGI app in this
  process (GraphQL, the owner's token, the answer's JSON; no network);
- `ledger.redemptions.decide_redemptions` alone (the ledger rule: one statement);
- the Python path that SQLite runs and PostgreSQL ran before issue 14, one
  transaction per redemption (`_decided_alone`), for comparison.

Each call must approve the whole batch; SQL statements per call are counted from the
driver's debug log. Results: a table here and `bench/results/decide.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench import pg, report, sqlcount
from bench.api import SECRETS, service_settings
from bench.seed import actor, person
from graph.ids import to_global_id
from ledger import accounts, courses, purchases, redemptions
from ledger.actors import Actor
from models import Account, ApprovalMode, Course, Redemption, RedemptionStatus
from settings import get_settings

APPROVE = """mutation Approve($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) {
  totalCredits redemptions { id status } errors { code message } } }"""
LOTS, LOT_CREDITS, PRICE, LEARNERS = 10, 100_000, 25, 20


class Shop:
    def __init__(self, owner: Actor, account: Account, course: Course, learners: list[Actor]):
        self.owner, self.account, self.course, self.learners = owner, account, course, learners
        self.requests = 0

    async def pending(self, count: int) -> list[Redemption]:
        """`count` new PENDING requests, oldest first."""
        made = []
        for _ in range(count):
            self.requests += 1
            made.append(
                await redemptions.redeem_credits(
                    actor=self.learners[self.requests % LEARNERS],
                    code=accounts.display_code(self.account),
                    course_id=self.course.id,
                    idempotency_key=f"decide-{self.requests}",
                )
            )
        return made


async def shop() -> Shop:
    owner = await actor(person("owner"))
    account = await accounts.create_account(
        actor=owner, name="Decide", approval_mode=ApprovalMode.MANUAL
    )
    for i in range(LOTS):
        await purchases.purchase_credits(
            actor=owner, account_id=account.id, credits=LOT_CREDITS, payment_token="tok_visa",
            idempotency_key=f"decide-lot-{i}",
        )  # fmt: skip
    support = await actor(person("support"), support=True)
    course = await courses.upsert_course(
        actor=support, sku="DECIDE", title="Decide", price_credits=PRICE
    )
    learners = [await actor(person("learner", i)) for i in range(LEARNERS)]
    return Shop(owner, account, course, learners)


Approve = Callable[[list[Redemption]], Awaitable[int]]  # answers how many were approved


def through_the_api(shop_: Shop, url: str) -> Approve:
    from app import create_app
    from auth import mint_token

    settings = service_settings(url)
    app = create_app(settings, manage_database=False)
    who = person("owner")
    token = mint_token(email=who.email, name=who.name, sub=who.sub, settings=settings)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}

    async def approve(rows: list[Redemption]) -> int:
        ids = [to_global_id("Redemption", row.id) for row in rows]
        body = json.dumps({"query": APPROVE, "variables": {"ids": ids}})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            answer = (await http.post("/graphql", content=body, headers=headers)).json()
        payload = answer["data"]["approveRedemptions"]
        if payload["errors"]:
            raise RuntimeError(f"approveRedemptions refused: {payload['errors'][:3]}")
        return sum(r["status"] == "APPROVED" for r in payload["redemptions"])

    return approve


def in_the_ledger(shop_: Shop) -> Approve:
    async def approve(rows: list[Redemption]) -> int:
        ids = [row.id for row in rows]
        decided = await redemptions.decide_redemptions(actor=shop_.owner, ids=ids, approve=True)
        return len(decided.redemptions)

    return approve


def one_transaction_each(shop_: Shop) -> Approve:
    async def approve(rows: list[Redemption]) -> int:
        approved = 0
        for row in sorted(rows, key=lambda r: (r.requested_at, r.id)):
            outcome = await redemptions._decided_alone(
                row, actor=shop_.owner, approve=True, reason=None
            )
            approved += isinstance(outcome, Redemption)
        return approved

    return approve


async def timed(shop_: Shop, approve: Approve, batch: int, repeat: int) -> dict[str, Any]:
    """Milliseconds per call over `repeat` calls, each on `batch` fresh requests."""
    times, statements = [], 0
    for _ in range(repeat + 1):  # the first call warms up (plans, caches) and is not timed
        rows = await shop_.pending(batch)
        with sqlcount.logged_sql() as logged:
            started = time.perf_counter()
            approved = await approve(rows)
            elapsed = (time.perf_counter() - started) * 1000
        if approved != batch:
            raise RuntimeError(f"{approved} of {batch} approved")
        times.append(elapsed)
        statements = len(logged)
    pending = await Redemption.filter(
        account_id=shop_.account.id, status=RedemptionStatus.PENDING
    ).count()
    if pending:
        raise RuntimeError(f"{pending} requests left pending")
    measured = times[1:]
    return {
        "median_ms": statistics.median(measured), "max_ms": max(measured),
        "min_ms": min(measured), "statements": statements, "calls": len(measured),
    }  # fmt: skip


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with pg.throwaway_database("credits_bench_decide") as url, pg.tortoise_on(url):
        shop_ = await shop()
        ways = {
            "approveRedemptions (GraphQL, in-process)": through_the_api(shop_, url),
            "decide_redemptions (one statement)": in_the_ledger(shop_),
            "one transaction per redemption (before)": one_transaction_each(shop_),
        }
        return {
            name: await timed(shop_, way, args.batch, args.repeat) for name, way in ways.items()
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.decide", description=__doc__)
    parser.add_argument("--batch", type=int, default=100, help="redemptions per call")
    parser.add_argument("--repeat", type=int, default=7, help="timed calls per way")
    args = parser.parse_args(argv)
    os.environ.update(SECRETS)
    get_settings.cache_clear()
    busy = report.warn_if_busy()
    figures = asyncio.run(run(args))
    headers = ["approving", "batch", "median ms", "max ms", "SQL/call", "target"]
    rows = [
        [name, args.batch, f["median_ms"], f["max_ms"], f["statements"], "< 150 ms"]
        for name, f in figures.items()
    ]
    print(report.table(headers, rows))
    saved = report.save("decide", {"batch": args.batch, "load": busy, "ways": figures})
    print(f"\nsaved {saved}")


if __name__ == "__main__":
    main()
