"""The API scenarios: what each server is asked, how an answer is checked, the targets.

The service gets a GraphQL document with variables; the baseline gets the same
arguments as a plain JSON body on its own endpoint; both answer the same JSON shape, so
one check of the answer serves both. PostGraphile, for the list scenarios, gets the
same selection written in the schema it generates from the tables (`allLots`, the
foreign keys' `courseByCourseId`, …), scoped by the account's id in a `condition`: it
checks no token and has no computed `status` of a lot.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auth import mint_token
from bench.load import PLACEHOLDER, Check
from bench.seed import REDEEM_TARGETS, TARGETS, Person, Seed
from graph.ids import to_global_id
from settings import Settings

BALANCE = "query Balance { balance { available pending expiringWithin90Days nextExpiry } }"
LOTS = """query Lots($first: Int) { lots(first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id credits remaining purchasedAt expiresAt status } } } }"""
# What the owner portal lists: who asked for which course, how much, and where it stands.
REDEMPTIONS = """query Redemptions($first: Int) { redemptions(first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id status credits requestedAt decidedAt
    course { id sku title } learner { id email name } } } } }"""
# The same selections in PostGraphile 4's schema of the same tables.
POSTGRAPHILE_LOTS = """query Lots($accountId: Int!, $first: Int) {
  allLots(condition: {accountId: $accountId}, orderBy: ID_DESC, first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id credits remaining purchasedAt expiresAt } } } }"""
POSTGRAPHILE_REDEMPTIONS = """query Redemptions($accountId: Int!, $first: Int) {
  allRedemptions(condition: {accountId: $accountId}, orderBy: ID_DESC, first: $first) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { id status credits requestedAt decidedAt
    courseByCourseId { id sku title } userByLearnerId { id email name } } } } }"""
REDEEM = """mutation Redeem($input: RedeemCreditsInput!) { redeemCredits(input: $input) {
  redemption { id status credits } errors { code message } } }"""
PAGE = 100

Arguments = Callable[[Seed, str, int, str], dict[str, Any]]
Request = tuple[bytes, dict[str, str]]


@dataclass(frozen=True)
class Target:
    """What the issue asks of the service; None: not asked."""

    min_ratio: float | None = None  # service req/s ÷ baseline req/s
    min_postgraphile_ratio: float | None = None  # service req/s ÷ PostGraphile req/s
    max_p99_ms: float | None = None
    max_queries: int | None = None
    min_rate: float | None = None  # service req/s
    min_old_ratio: float | None = None  # service req/s ÷ the baseline with the old SQL

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f">={self.min_ratio:.0%} of baseline")
        if self.min_postgraphile_ratio is not None:
            parts.append(f">={self.min_postgraphile_ratio:.1f}x PostGraphile")
        if self.max_p99_ms is not None:
            parts.append(f"p99<{self.max_p99_ms:g}ms")
        if self.max_queries is not None:
            parts.append(f"<={self.max_queries} queries")
        if self.min_rate is not None:
            parts.append(f">={self.min_rate:g}/s")
        if self.min_old_ratio is not None:
            parts.append(f">={self.min_old_ratio:g}x old baseline")
        return ", ".join(parts)


@dataclass(frozen=True)
class Scenario:
    name: str
    query: str
    path: str  # the baseline's endpoint
    clients: int
    target: Target
    arguments: Arguments
    caller: Callable[[Seed, int], Person]
    check: Check
    as_input: bool = False  # the mutation takes its arguments as `input`
    postgraphile_query: str | None = None  # the same selection in PostGraphile's schema
    old_path: str | None = None  # the baseline's endpoint with the SQL before issue 14

    @property
    def targets(self) -> tuple[str, ...]:
        """The servers this scenario runs against."""
        if self.old_path:
            return REDEEM_TARGETS
        return (*TARGETS, "postgraphile") if self.postgraphile_query else TARGETS

    def service_body(self, arguments: dict[str, Any]) -> bytes:
        variables = {"input": arguments} if self.as_input else arguments
        return json.dumps({"query": self.query, "variables": variables}).encode()

    def postgraphile_body(self, seed: Seed, arguments: dict[str, Any]) -> bytes:
        variables = {**arguments, "accountId": seed.reads_account_id}
        return json.dumps({"query": self.postgraphile_query, "variables": variables}).encode()


ANSWERED = Check(must='{"data"', must_not='"errors"')
# A mutation's payload always has `errors`: an approval's is empty.
APPROVED = Check(must='"status":"APPROVED"', must_not='"errors":[{')


def page_shape(answer: bytes) -> tuple[int, int] | None:
    """(totalCount, edges) of a list answer's connection; None for other answers."""
    data = json.loads(answer).get("data") or {}
    connection = next(iter(data.values()), None)
    if not isinstance(connection, dict) or "edges" not in connection:
        return None
    return int(connection["totalCount"]), len(connection["edges"])


def page(seed: Seed, target: str, client: int, request_id: str) -> dict[str, Any]:
    return {"first": PAGE}


def checkout(seed: Seed, target: str, client: int, request_id: str) -> dict[str, Any]:
    course = seed.redeem_course_id  # the service takes a Relay global id, the baseline the key
    return {
        "code": seed.redeem_codes[target],
        "courseId": to_global_id("Course", course) if target == "service" else str(course),
        "idempotencyKey": f"bench-{target}-{client}-{request_id}",
    }


def owner(seed: Seed, client: int) -> Person:
    return seed.owner


def learner(seed: Seed, client: int) -> Person:
    return seed.learners[client % len(seed.learners)]


def read(
    name: str,
    query: str,
    arguments: Arguments,
    target: Target,
    clients: int,
    postgraphile_query: str | None = None,
) -> Scenario:
    """An owner reading their own account."""
    return Scenario(
        name=name, query=query, path=f"/{name}", clients=clients, target=target,
        arguments=arguments, caller=owner, check=ANSWERED,
        postgraphile_query=postgraphile_query,
    )  # fmt: skip


def no_arguments(seed: Seed, target: str, client: int, request_id: str) -> dict[str, Any]:
    return {}


def scenarios(read_clients: int, redeem_clients: int) -> list[Scenario]:
    # Issue 13: lists at least as fast as PostGraphile, balance at 60 % of the bare baseline.
    lists = Target(min_postgraphile_ratio=1.0, max_p99_ms=100, max_queries=4)
    return [
        read("balance", BALANCE, no_arguments, Target(min_ratio=0.6, max_p99_ms=50), read_clients),
        read("lots", LOTS, page, lists, read_clients, POSTGRAPHILE_LOTS),
        read("redemptions", REDEMPTIONS, page, lists, read_clients, POSTGRAPHILE_REDEMPTIONS),
        Scenario(
            name="redeem", query=REDEEM, path="/redeem", clients=redeem_clients,
            target=Target(min_rate=300, min_old_ratio=1.5), arguments=checkout,
            caller=learner, check=APPROVED, as_input=True, old_path="/redeem-old",
        ),
    ]  # fmt: skip


def request_maker(
    scenario: Scenario, seed: Seed, target: str, settings: Settings, label: str = "load"
) -> Callable[[int], Request]:
    """client index → the body and headers of that client's next request to `target`.

    Each request made by this maker gets its own id (`label` and a serial number across
    every round), so that each redemption has its own idempotency key.
    """
    tokens: dict[int, dict[str, str]] = {}
    serial = itertools.count()

    def headers(client: int) -> dict[str, str]:
        if client not in tokens:
            who = scenario.caller(seed, client)
            token = mint_token(email=who.email, name=who.name, sub=who.sub, settings=settings)
            tokens[client] = {
                "authorization": f"Bearer {token}",
                "content-type": "application/json",
            }
        return tokens[client]

    def make(client: int) -> Request:
        arguments = scenario.arguments(seed, target, client, f"{label}-{next(serial)}")
        if target == "service":
            return scenario.service_body(arguments), headers(client)
        if target == "postgraphile":  # it checks no token, and refuses one it cannot verify
            return scenario.postgraphile_body(seed, arguments), {}
        return json.dumps(arguments).encode(), headers(client)

    return make


def load_requests(
    scenario: Scenario, seed: Seed, target: str, settings: Settings, label: str
) -> list[Request]:
    """One request per connection for one wrk run; wrk fills in PLACEHOLDER of each
    idempotency key, so that with `label` (one per run) no key repeats."""
    make = request_maker(scenario, seed, target, settings, f"{label}-{PLACEHOLDER}")
    return [make(client) for client in range(scenario.clients)]
