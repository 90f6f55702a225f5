"""The differential oracle of the compiled read path (issue 13): the same request, through
an app with `compiled_reads` on and one with it off, over the same database, at the same
frozen instant, must answer the same HTTP status, content type and JSON — data and errors,
keys in the same order. Both apps get the same `X-Request-ID`, so even a masked INTERNAL
error's `requestId` needs no normalising. The one thing normalised is the order of the
top-level errors: the reference executor itself does not keep one. graphql-core resolves
a query's root fields concurrently and lists errors as they are raised, so on PostgreSQL
`{ redemptions(accountId: "nope") {…} transactions(first: 101) {…} r2: redemptions(before:
"x") {…} }` answered its three errors in two different orders over 30 identical requests.
Nor does it keep one set of errors when a non-null root field (`viewer`, `nodes`) fails
and `data` is null: the other root fields' errors are listed if they were raised before
that one. When both answers have `data: null`, they must agree on the errors of the
non-null root fields; the rest may differ.

- The property test draws documents from tests/generated_documents.py (hypothesis-graphql,
  rewritten with variables, fragments, aliases, directives and steered arguments), mostly
  over the root fields the compiled path covers and a share over every Query field, and
  sends each as one of five callers: the owner of the seeded account, a stranger who owns
  another, a learner with requests on both, support staff, and nobody. It also asserts
  that the compiled executor answered at least 80 % of the covered documents that the
  reference answers without an error (about 98 % in practice; errors are the reference
  executor's by design), so that the oracle cannot pass by everything falling back.
- The hand-written documents use every feature the compiled path claims (fragments,
  aliases, variables, @include/@skip, __typename, nested course/learner/draws, paging both
  ways with cursors, filters), and each must be answered by the compiled executor.

Bounded for CI: ORACLE_EXAMPLES generated documents per run (default 1000; the suite runs
once on SQLite and once on PostgreSQL). Queries change nothing, so shrinking is safe, but
it is off unless ORACLE_SHRINK=1 (it costs minutes); a failure prints the document, its
variables, the caller and both answers, and `--hypothesis-seed=N` replays a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import pytest
from graphql import FieldNode, GraphQLError, Node, parse
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from auth import mint_token
from ledger.expiry import expire_due_lots
from settings import get_settings
from tests.conftest import FrozenClock
from tests.generated_documents import NON_NULL_ROOTS, Request, requests
from tests.helpers import GraphQLClient, buy, create_account, gid, redeem, upsert_course

EXAMPLES = int(os.environ.get("ORACLE_EXAMPLES", "1000"))
SHRINK = bool(os.environ.get("ORACLE_SHRINK"))
# Of the generated documents over covered root fields only that the reference executor
# answers without an error, at least this share must be answered by the compiled one
# (the rest ask a field it does not cover, such as Transaction.purchase).
ANSWERED_SHARE = 0.80

START = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
PEOPLE = {
    "owner": ("ann@example.com", "Ann Owner", False),
    "co-owner": ("bob@example.com", "Bob Owner", False),
    "stranger": ("mallory@example.net", "Mallory Stranger", False),
    "learner": ("lee@example.com", "Lee Learner", False),
    "other learner": ("kim@example.com", "Kim Learner", False),
    "support": ("help@credits.example", "Sam Support", True),
}
ROLES = ("owner", "stranger", "learner", "support", "anonymous")
ACCOUNT, STRANGERS_ACCOUNT = gid("Account", 1), gid("Account", 2)


# --- the two paths -------------------------------------------------------------------------


@cache
def _app(compiled: bool) -> Starlette:
    from app import create_app

    settings = get_settings().model_copy(update={"compiled_reads": compiled})
    return create_app(settings, manage_database=False)


def compiled_answers() -> float:
    value = REGISTRY.get_sample_value("credits_graphql_executions_total", {"executor": "compiled"})
    return value or 0.0


def _ordered(text: str) -> Any:
    """A JSON body with its objects as lists of pairs, so that key order counts as well;
    its top-level errors sorted (see the module's docstring)."""
    body = json.loads(text, object_pairs_hook=list)
    if not isinstance(body, list):
        return body
    return [
        (key, sorted(value, key=json.dumps) if key == "errors" else value) for key, value in body
    ]


@dataclass
class Answer:
    status: int
    content_type: str
    text: str
    compiled: bool  # the compiled executor answered it

    def same_as(self, other: Answer, document: str = "") -> bool:
        if (self.status, self.content_type) != (other.status, other.content_type):
            return False
        if _ordered(self.text) == _ordered(other.text):
            return True
        mine, theirs = json.loads(self.text), json.loads(other.text)
        keys = _non_null_keys(document)
        return (
            isinstance(mine, dict)
            and isinstance(theirs, dict)
            and mine.get("data", ...) is None
            and theirs.get("data", ...) is None
            and _fatal(mine, keys) == _fatal(theirs, keys)
            and bool(_fatal(mine, keys))
        )


def _fatal(body: dict[str, Any], keys: frozenset[str]) -> list[str]:
    """The errors of a result on non-null root fields: those that make `data` null."""
    return sorted(
        json.dumps(error, sort_keys=True)
        for error in body.get("errors") or []
        if (error.get("path") or [None])[0] in keys
    )


def _non_null_keys(document: str) -> frozenset[str]:
    """The response keys (aliases included) of the non-null root fields `document` asks."""
    keys = set(NON_NULL_ROOTS)
    try:
        parsed = parse(document)
    except GraphQLError:
        return frozenset(keys)
    for node in _walk(parsed):
        if isinstance(node, FieldNode) and node.alias and node.name.value in NON_NULL_ROOTS:
            keys.add(node.alias.value)
    return frozenset(keys)


def _walk(node: Any) -> Any:
    """Every AST node below `node` (an alias of a nested field named like a root field
    counts too: harmless, its errors never make `data` null on their own)."""
    yield node
    for key in getattr(node, "keys", ()):
        value = getattr(node, key, None)
        children = value if isinstance(value, tuple | list) else (value,)
        for child in children:
            if isinstance(child, Node):
                yield from _walk(child)


@dataclass
class World:
    """Both apps, and a bearer token per caller (None: nobody)."""

    compiled: httpx.AsyncClient
    reference: httpx.AsyncClient
    tokens: dict[str, str | None]
    sent: int = 0

    async def _post(
        self, http: httpx.AsyncClient, role: str, document: str, variables: dict[str, Any]
    ) -> Answer:
        token = self.tokens[role]
        headers = {"X-Request-ID": f"oracle-{self.sent}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        before = compiled_answers()
        response = await http.post(
            "/graphql", json={"query": document, "variables": variables}, headers=headers
        )
        return Answer(
            response.status_code,
            response.headers.get("content-type", ""),
            response.text,
            compiled_answers() > before,
        )

    async def both(
        self, role: str, document: str, variables: dict[str, Any] | None = None
    ) -> tuple[Answer, Answer]:
        """The reference answer, then the compiled path's, to the same request."""
        self.sent += 1
        reference = await self._post(self.reference, role, document, variables or {})
        compiled = await self._post(self.compiled, role, document, variables or {})
        assert not reference.compiled, "the app with compiled_reads off used the compiled path"
        return reference, compiled


def difference(
    role: str, document: str, variables: dict[str, Any], reference: Answer, compiled: Answer
) -> str:
    return "\n".join(
        (
            f"as {role}, with variables {json.dumps(variables)}:",
            document,
            f"reference: HTTP {reference.status} {reference.content_type} {reference.text}",
            f"compiled:  HTTP {compiled.status} {compiled.content_type} {compiled.text}",
        )
    )


# --- the seeded world ----------------------------------------------------------------------

MUTATIONS = {
    "reverse": 'mutation($id: ID!) { reverseRedemption(input: {id: $id, reason: "refund"}) {'
    " errors { code } } }",
    "manual": "mutation { updateAccount(input: {approvalMode: MANUAL, autoApproveLimit: 30}) {"
    " errors { code } } }",
    "approve": "mutation($id: ID!) { approveRedemptions(input: {ids: [$id]}) { errors { code } } }",
    "deny": 'mutation($id: ID!) { denyRedemptions(input: {ids: [$id], reason: "not now"}) {'
    " errors { code } } }",
    "cancel": "mutation($id: ID!) { cancelRedemption(input: {id: $id}) { errors { code } } }",
    "adjust": "mutation($id: ID!, $credits: Int!) { adjustCredits(input: {accountId: $id,"
    ' credits: $credits, reason: "fix"}) { errors { code } } }',
    "add owner": "mutation($email: String!) { addAccountOwner(input: {email: $email}) {"
    " errors { code } } }",
}


async def _run(client: GraphQLClient, name: str, **variables: Any) -> None:
    body = await client.post(MUTATIONS[name], variables)
    assert not body.get("errors"), body
    (payload,) = body["data"].values()
    assert payload["errors"] == [], payload


async def seed(people: dict[str, GraphQLClient], clock: FrozenClock) -> None:
    """Ann's account: lots active, depleted, expired and one expiring soon; redemptions
    approved (one across two lots), pending, denied, cancelled and reversed, by two
    learners; adjustments both ways and a co-owner. Mallory owns an account with a lot and
    one of Lee's redemptions. Five courses, one withdrawn."""
    owner, stranger, learner, other, support = (
        people[name] for name in ("owner", "stranger", "learner", "other learner", "support")
    )
    clock.set(START)
    course = {
        price: (await upsert_course(support, f"ORC-{price}", f"Course {price}", price))["id"]
        for price in (100, 250, 40, 30)
    }
    await upsert_course(support, "ORC-OLD", "Withdrawn", 50, active=False)
    code = (await create_account(owner, name="Oracle Co"))["redemptionCode"]
    await buy(owner, 500, "o-1")  # expires before NOW, with credits left

    async def request(who: GraphQLClient, price: int, key: str, on: str = code) -> str:
        payload = await redeem(who, on, course[price], key)
        assert payload["errors"] == [], payload
        return str(payload["redemption"]["id"])

    await request(learner, 100, "r-1")
    clock.advance(days=20)
    await request(learner, 40, "r-2")
    clock.set(START + timedelta(days=60))
    await buy(owner, 120, "o-2")  # drawn to nothing below
    clock.set(START + timedelta(days=100))
    await buy(owner, 600, "o-3")  # expires within 90 days of NOW
    clock.set(START + timedelta(days=220))
    await buy(owner, 20_000, "o-4", promoCode="twentyoffTC")
    await _run(support, "reverse", id=await request(other, 40, "r-3"))
    clock.set(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    await expire_due_lots()  # the first lot
    await request(other, 250, "r-4")  # all of lot 2, then lot 3
    await _run(owner, "manual")
    await request(learner, 250, "r-5")  # stays pending
    await request(other, 100, "r-6")  # stays pending
    await _run(owner, "deny", id=await request(learner, 40, "r-7"))
    await _run(owner, "approve", id=await request(other, 250, "r-8"))
    await request(learner, 30, "r-9")  # within the automatic limit
    await _run(learner, "cancel", id=await request(learner, 100, "r-10"))
    clock.advance(days=20)
    await _run(support, "adjust", id=ACCOUNT, credits=50)
    await _run(support, "adjust", id=ACCOUNT, credits=-10)
    await _run(owner, "add owner", email=PEOPLE["co-owner"][0])
    theirs = await create_account(stranger, name="Stranger Ltd")
    assert theirs["id"] == STRANGERS_ACCOUNT
    await buy(stranger, 300, "m-1")
    await request(learner, 40, "r-11", on=theirs["redemptionCode"])
    clock.set(NOW)
    await expire_due_lots()


@pytest.fixture
async def world(clock: FrozenClock) -> AsyncIterator[World]:
    people = {
        role: GraphQLClient(mint_token(email=email, name=name, support=support))
        for role, (email, name, support) in PEOPLE.items()
    }
    await seed(people, clock)
    tokens = {role: people[role].token for role in ROLES if role != "anonymous"}
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_app(True)), base_url="http://test"
        ) as compiled,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=_app(False)), base_url="http://test"
        ) as reference,
    ):
        yield World(compiled, reference, {**tokens, "anonymous": None})


@pytest.fixture
async def session_loop() -> asyncio.AbstractEventLoop:
    """The event loop of the session, where Tortoise's connections live."""
    return asyncio.get_running_loop()


async def test_the_seeded_lists_are_not_empty(world: World) -> None:
    """The oracle compares lists with rows in them, of every status and kind."""
    document = """{ lots(first: 100) { edges { node { status remaining } } }
      transactions(first: 100) { edges { node { kind } } }
      redemptions(first: 100) { edges { node { status draws { credits } } } }
      courses(first: 100) { totalCount } }"""
    owner, _ = await world.both("owner", document)
    body = json.loads(owner.text)
    assert "errors" not in body, body
    data = body["data"]
    nodes = {name: [e["node"] for e in data[name]["edges"]] for name in data if name != "courses"}
    assert {lot["status"] for lot in nodes["lots"]} == {"ACTIVE", "DEPLETED", "EXPIRED"}
    assert {entry["kind"] for entry in nodes["transactions"]} >= {
        "PURCHASE",
        "REDEMPTION",
        "EXPIRY",
        "REVERSAL",
        "ADJUSTMENT",
    }
    statuses = Counter(r["status"] for r in nodes["redemptions"])
    assert set(statuses) == {"APPROVED", "PENDING", "DENIED", "CANCELLED", "REVERSED"}
    assert max(len(r["draws"] or []) for r in nodes["redemptions"]) == 2
    assert data["courses"]["totalCount"] == 4  # the withdrawn one is support's
    support, _ = await world.both("support", "{ courses(includeInactive: true) { totalCount } }")
    assert json.loads(support.text)["data"]["courses"]["totalCount"] == 5


# --- the property test ---------------------------------------------------------------------


@dataclass
class Tally:
    covered: int = 0
    compiled: int = 0
    # Of the covered documents, those the reference answers without an error: the ones
    # the compiled executor should answer (errors are the reference executor's, by design).
    answerable: int = 0
    compiled_answerable: int = 0
    internal: list[str] = field(default_factory=list)


async def _compare(world: World, request: Request, role: str, tally: Tally) -> None:
    reference, compiled = await world.both(role, request.document, request.variables)
    report = difference(role, request.document, request.variables, reference, compiled)
    assert reference.same_as(compiled, request.document), report
    if '"INTERNAL"' in reference.text:
        tally.internal.append(report)
    if request.covered:
        tally.covered += 1
        tally.compiled += compiled.compiled
        if "errors" not in json.loads(reference.text):
            tally.answerable += 1
            tally.compiled_answerable += compiled.compiled


ORACLE_SETTINGS = settings(
    max_examples=EXAMPLES,
    # Shrinking sends hundreds more requests; ORACLE_SHRINK=1 asks for it.
    phases=(Phase.explicit, Phase.generate, *((Phase.shrink,) if SHRINK else ())),
    deadline=None,
    database=None,  # nothing saved between runs: CI starts clean
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_generated_documents_answer_alike_on_both_paths(
    world: World, session_loop: asyncio.AbstractEventLoop
) -> None:
    """Hypothesis runs here, not through pytest-asyncio's @given support (which
    tests/test_fuzz.py uses): the share of compiled answers can only be judged after the
    last example. Each example runs on the session's loop, as pytest-asyncio would."""
    tally = Tally()

    @ORACLE_SETTINGS
    @given(request=requests(), role=st.sampled_from(ROLES))
    def compare(request: Request, role: str) -> None:
        session_loop.run_until_complete(_compare(world, request, role, tally))

    compare()
    for report in tally.internal:
        warnings.warn(f"the reference executor answered INTERNAL:\n{report}", stacklevel=1)
    assert tally.covered >= EXAMPLES // 2
    print(
        f"compiled: {tally.compiled} of {tally.covered} covered documents, "
        f"{tally.compiled_answerable} of the {tally.answerable} answered without errors"
    )
    assert tally.compiled_answerable >= ANSWERED_SHARE * tally.answerable, (
        f"the compiled executor answered {tally.compiled_answerable} of the "
        f"{tally.answerable} generated documents over the covered root fields that the "
        "reference executor answers without an error"
    )


# --- hand-written documents ----------------------------------------------------------------

LOT_PAGE = """
fragment LotPage on LotConnection {
  totalCount
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { __typename id credits remaining purchasedAt expiresAt status } }
}"""
REDEMPTION_FIELDS = """
fragment RedemptionFields on Redemption {
  id status credits requestedAt decidedAt reason
  course { __typename id sku title priceCredits active }
  learner @skip(if: $noLearner) { id email name }
  decidedBy { email }
  draws @include(if: $withDraws) { credits lot { id status remaining expiresAt } }
}"""
ACCOUNT_FIELDS = """
id name approvalMode autoApproveLimit createdAt redemptionCode
owners { id email name }
balance { available pending expiringWithin90Days nextExpiry }"""

# (caller, document, variables): each must be answered by the compiled executor.
COMPILED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("owner", "{ balance { available pending expiringWithin90Days nextExpiry } }", {}),
    (
        "owner",
        "{ viewer { isSupport user { id email } account { id name redemptionCode"
        " owners { id email name } balance { available nextExpiry } } } }",
        {},
    ),
    (
        "owner",
        "query Lots($n: Int) { __typename mine: lots(first: $n) { ...LotPage }"
        " active: lots(status: ACTIVE) { totalCount edges { node { id status } } } }" + LOT_PAGE,
        {"n": 3},
    ),
    (
        "owner",
        "query($withDraws: Boolean!, $noLearner: Boolean = false) {"
        " redemptions(first: 20) { totalCount edges { cursor node { ...RedemptionFields } } } }"
        + REDEMPTION_FIELDS,
        {"withDraws": True},
    ),
    (
        "support",
        "query($withDraws: Boolean!, $noLearner: Boolean!, $id: ID) {"
        ' redemptions(accountId: $id, status: PENDING, learnerEmail: "LEE@example.com") {'
        " edges { node { ...RedemptionFields } } } }" + REDEMPTION_FIELDS,
        {"withDraws": False, "noLearner": True, "id": ACCOUNT},
    ),
    (
        "owner",
        '{ transactions(kind: REDEMPTION, from: "2025-01-01", to: "2026-03-01", first: 5) {'
        " totalCount pageInfo { hasNextPage endCursor } edges { node { id kind credits"
        " balanceAfter reason reference expiresAt createdAt lot { id } } } }"
        " all: transactions(last: 2) { edges { cursor node { __typename kind } } } }",
        {},
    ),
    (
        "learner",
        "{ viewer { user { id email name } isSupport account { id } }"
        " myRedemptions(first: 3) { totalCount pageInfo { hasNextPage endCursor }"
        " edges { node { id status credits course { title } learner { email }"
        " draws { credits lot { id } } } } } }",
        {},
    ),
    (
        "support",
        "query($id: ID) { account(id: $id) {" + ACCOUNT_FIELDS + " }"
        " balance(accountId: $id) { available }"
        " viewer { isSupport account { id } } }",
        {"id": ACCOUNT},
    ),
    ("owner", "{ account { ... on Account {" + ACCOUNT_FIELDS + " } } viewer { __typename } }", {}),
    (
        "support",
        "query($all: Boolean!) { courses(first: 10, includeInactive: $all) { totalCount"
        " edges { cursor node { id sku title priceCredits active } } }"
        " page: courses(last: 2) { pageInfo { hasPreviousPage startCursor } edges { node {"
        " sku } } } }",
        {"all": True},
    ),
    (
        "stranger",
        "{ viewer { account { id name } } lots { edges { node { remaining } } }"
        " redemptions { edges { node { learner { email } draws { credits } } } } }",
        {},
    ),
)
# Refusals and shapes the compiled path may leave to the reference executor: compared only.
COMPARED: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("stranger", "query($id: ID) { lots(accountId: $id) { totalCount } }", {"id": ACCOUNT}),
    ("learner", "{ balance { available } }", {}),
    ("anonymous", "{ viewer { isSupport } courses { totalCount } }", {}),
    ("owner", "{ lots(first: 2, last: 2) { totalCount } }", {}),
    ("owner", '{ lots(after: "not a cursor") { totalCount } }', {}),
    ("owner", "{ lots(first: 101) { totalCount } }", {}),
    ("owner", '{ transactions(from: "2026-03-01", to: "2025-01-01") { totalCount } }', {}),
    ("owner", '{ account(id: "1") { id } }', {}),
    ("support", '{ account(id: "' + gid("Lot", 1) + '") { id } }', {}),
    ("owner", "{ __schema { queryType { name } } }", {}),
    ("owner", '{ nodes(ids: ["' + ACCOUNT + '"]) { id } }', {}),
    ("owner", "query($n: Int) { lots(first: $n) { totalCount } }", {"n": "two"}),
    ("owner", "{ lots { nope } }", {}),
)


@pytest.mark.parametrize("number", range(len(COMPILED)))
async def test_the_compiled_path_answers_the_read_features_as_the_reference(
    world: World, number: int
) -> None:
    role, document, variables = COMPILED[number]
    reference, compiled = await world.both(role, document, variables)
    assert reference.same_as(compiled, document), difference(
        role, document, variables, reference, compiled
    )
    assert "errors" not in json.loads(reference.text), reference.text
    assert compiled.compiled, f"the reference executor answered:\n{document}"


@pytest.mark.parametrize("number", range(len(COMPARED)))
async def test_refusals_and_other_shapes_answer_alike(world: World, number: int) -> None:
    role, document, variables = COMPARED[number]
    reference, compiled = await world.both(role, document, variables)
    assert reference.same_as(compiled, document), difference(
        role, document, variables, reference, compiled
    )


async def _page_through(world: World, role: str, name: str, backward: bool) -> list[str]:
    """Every id of list `name`, a page of two at a time: both paths answer each page the
    same, and the next page's cursor comes from that answer."""
    size, more, at = (
        ("last", "hasPreviousPage", "startCursor")
        if backward
        else (
            "first",
            "hasNextPage",
            "endCursor",
        )
    )
    after = "before" if backward else "after"
    document = (
        f"query($n: Int, $c: String) {{ {name}({size}: $n, {after}: $c) {{ totalCount"
        " pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"
        " edges { cursor node { id } } } }"
    )
    seen: list[str] = []
    variables: dict[str, Any] = {"n": 2, "c": None}
    for _ in range(20):
        reference, compiled = await world.both(role, document, variables)
        assert reference.same_as(compiled), difference(
            role, document, variables, reference, compiled
        )
        assert compiled.compiled, f"the reference executor answered page {variables}"
        page = json.loads(reference.text)["data"][name]
        ids = [edge["node"]["id"] for edge in page["edges"]]
        seen = ids + seen if backward else seen + ids
        if not page["pageInfo"][more]:
            assert len(seen) == page["totalCount"]
            return seen
        variables = {"n": 2, "c": page["pageInfo"][at]}
    raise AssertionError(f"{name} did not end in 20 pages")


@pytest.mark.parametrize("name", ["lots", "transactions", "redemptions", "myRedemptions"])
async def test_paging_forward_and_backward_answers_alike(world: World, name: str) -> None:
    role = "learner" if name == "myRedemptions" else "owner"
    forward = await _page_through(world, role, name, backward=False)
    backward = await _page_through(world, role, name, backward=True)
    assert forward == backward
    assert len(forward) >= 3


# --- redeemCredits: compiled, and replayed by the other executor ---------------------------

REDEEM_FIELDS = """__typename
  redemption { __typename id status credits requestedAt decidedAt reason
    course { id sku title priceCredits active } learner { id email name }
    decidedBy { email } draws { credits lot { id remaining status } } }
  errors { __typename code message field }"""
REDEEM_DOCUMENTS = [
    "mutation($input: RedeemCreditsInput!) { redeemCredits(input: $input) { "
    + REDEEM_FIELDS
    + " } }",
    """mutation Checkout($code: String!, $course: ID!, $key: String!, $joined: Boolean!) {
      paid: redeemCredits(input: {code: $code, courseId: $course, idempotencyKey: $key}) {
        ...Paid refused: errors { code } } }
    fragment Paid on RedeemCreditsPayload {
      redemption { id status credits course @include(if: $joined) { title } } }""",
]
COURSES = "{ courses(includeInactive: true, first: 10) { edges { node { id sku } } } }"


async def _redeem_case(world: World, name: str, key: str) -> tuple[str, dict[str, Any]]:
    """(who asks, the input) of a checkout named `name`, on the seeded world at NOW: Ann's
    account is MANUAL, approving up to 30 credits at once; Mallory's is AUTOMATIC."""
    codes = {}
    for role in ("owner", "stranger"):
        answer, _ = await world.both(role, "{ viewer { account { redemptionCode } } }")
        codes[role] = json.loads(answer.text)["data"]["viewer"]["account"]["redemptionCode"]
    listed, _ = await world.both("support", COURSES)
    courses = json.loads(listed.text)["data"]["courses"]["edges"]
    course = {edge["node"]["sku"]: edge["node"]["id"] for edge in courses}
    cases = {
        "approved at once": ("learner", codes["owner"], course["ORC-30"]),
        "pending": ("learner", codes["owner"], course["ORC-250"]),
        "not covered": ("other learner", codes["stranger"], course["ORC-250"]),
        "a wrong code": ("learner", "NOPE-NOPE-NOPE", course["ORC-30"]),
        "a withdrawn course": ("learner", codes["owner"], course["ORC-OLD"]),
        "not a course id": ("learner", codes["owner"], gid("Account", 1)),
        "nobody": ("anonymous", codes["owner"], course["ORC-30"]),
    }
    role, code, course_id = cases[name]
    if name == "not covered":  # Mallory's 260 credits cover one of two
        first = {"code": code, "courseId": course_id, "idempotencyKey": f"{key}-first"}
        await world.both(role, REDEEM_DOCUMENTS[0], {"input": first})
    return role, {"code": code, "courseId": course_id, "idempotencyKey": key}


@pytest.mark.parametrize("compiled_first", [True, False], ids=["compiled", "reference"])
@pytest.mark.parametrize("number", range(len(REDEEM_DOCUMENTS)))
@pytest.mark.parametrize(
    "case",
    [
        "approved at once",
        "pending",
        "not covered",
        "a wrong code",
        "a withdrawn course",
        "not a course id",
        "nobody",
    ],
)
async def test_redeem_credits_answers_alike(
    world: World, case: str, number: int, compiled_first: bool
) -> None:
    """A checkout through one executor, then the same request (the same idempotency key)
    through the other: the second replays the first's answer, or refuses alike, so the
    two answers must be the same JSON. The compiled one answers every signed-in call."""
    world.tokens["other learner"] = world.tokens.get("other learner") or mint_token(
        email=PEOPLE["other learner"][0], name=PEOPLE["other learner"][1]
    )
    role, given = await _redeem_case(world, case, f"{case}-{number}-{compiled_first}")
    document = REDEEM_DOCUMENTS[number]
    variables: dict[str, Any] = {"input": given}
    if number == 1:
        variables = {"code": given["code"], "course": given["courseId"],
                     "key": given["idempotencyKey"], "joined": compiled_first}  # fmt: skip
    world.sent += 1
    order = (
        (world.compiled, world.reference) if compiled_first else (world.reference, world.compiled)
    )
    first = await world._post(order[0], role, document, variables)
    second = await world._post(order[1], role, document, variables)
    compiled, reference = (first, second) if compiled_first else (second, first)
    report = difference(role, document, variables, reference, compiled)
    assert reference.same_as(compiled, document), report
    assert not reference.compiled
    assert compiled.compiled is (role != "anonymous"), report
    body = json.loads(compiled.text)
    if case in ("approved at once", "pending"):
        status = "APPROVED" if case == "approved at once" else "PENDING"
        (payload,) = body["data"].values()
        assert payload.get("redemption", {}).get("status") == status, report
