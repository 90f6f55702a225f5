"""The API scenarios: what the service is asked, what the baseline is asked, the targets.

The service gets a GraphQL document with variables; the baseline gets the same
arguments as a plain JSON body on its own endpoint. Both answer the same JSON shape,
so one check of the answer serves both.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auth import mint_token
from bench.seed import Person, Seed
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
REDEEM = """mutation Redeem($input: RedeemCreditsInput!) { redeemCredits(input: $input) {
  redemption { id status credits } errors { code message } } }"""
PAGE = 100

Arguments = Callable[[Seed, str, int, str], dict[str, Any]]
Request = tuple[bytes, dict[str, str]]


@dataclass(frozen=True)
class Target:
    """What the issue asks of the service; None: not asked."""

    min_ratio: float | None = None  # service req/s ÷ baseline req/s
    max_p99_ms: float | None = None
    max_queries: int | None = None
    min_rate: float | None = None  # service req/s

    def describe(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f">={self.min_ratio:.0%} of baseline")
        if self.max_p99_ms is not None:
            parts.append(f"p99<{self.max_p99_ms:g}ms")
        if self.max_queries is not None:
            parts.append(f"<={self.max_queries} queries")
        if self.min_rate is not None:
            parts.append(f">={self.min_rate:g}/s")
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
    check: Callable[[bytes], bool]
    as_input: bool = False  # the mutation takes its arguments as `input`

    def service_body(self, arguments: dict[str, Any]) -> bytes:
        variables = {"input": arguments} if self.as_input else arguments
        return json.dumps({"query": self.query, "variables": variables}).encode()


def answered(body: bytes) -> bool:
    return body.startswith(b'{"data"') and b'"errors"' not in body


def approved(body: bytes) -> bool:
    return b'"status":"APPROVED"' in body and b'"errors":[]' in body


def page(seed: Seed, target: str, client: int, request_id: str) -> dict[str, Any]:
    return {"first": PAGE}


def checkout(seed: Seed, target: str, client: int, request_id: str) -> dict[str, Any]:
    return {
        "code": seed.redeem_codes[target],
        "courseId": str(seed.redeem_course_id),
        "idempotencyKey": f"bench-{target}-{client}-{request_id}",
    }


def owner(seed: Seed, client: int) -> Person:
    return seed.owner


def learner(seed: Seed, client: int) -> Person:
    return seed.learners[client % len(seed.learners)]


def read(name: str, query: str, arguments: Arguments, target: Target, clients: int) -> Scenario:
    """An owner reading their own account."""
    return Scenario(
        name=name, query=query, path=f"/{name}", clients=clients, target=target,
        arguments=arguments, caller=owner, check=answered,
    )  # fmt: skip


def no_arguments(seed: Seed, target: str, client: int, request_id: str) -> dict[str, Any]:
    return {}


def scenarios(read_clients: int, redeem_clients: int) -> list[Scenario]:
    return [
        read("balance", BALANCE, no_arguments, Target(min_ratio=0.5, max_p99_ms=50), read_clients),
        read("lots", LOTS, page, Target(min_ratio=0.3, max_queries=4), read_clients),
        read("redemptions", REDEMPTIONS, page, Target(min_ratio=0.3, max_queries=4), read_clients),
        Scenario(
            name="redeem", query=REDEEM, path="/redeem", clients=redeem_clients,
            target=Target(min_rate=300), arguments=checkout, caller=learner, check=approved,
            as_input=True,
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
        return json.dumps(arguments).encode(), headers(client)

    return make
