"""Fuzzing the GraphQL API: generated queries and mutations must never fault the server.

schemathesis (GraphQL mode, over hypothesis-graphql) generates documents for every root
field of `schema/schema.graphql`, queries and mutations. Each example is a valid document
(positive mode), sent as four callers — nobody; the learner who made the seeded
redemptions; support staff; and an owner whose account has lots (one expired, one
extended), a co-owner, quotes and redemptions in every state — and a document the
validator must refuse (negative mode: wrong types, missing arguments), sent with and
without a token. Every answer must keep DESIGN.md's contract:

- the HTTP status is never 5xx, and the body is a GraphQL result;
- an error raised while executing (it has a `path`) carries an `extensions.code` of the
  `ErrorCode` enum, and it is not INTERNAL: INTERNAL means an exception escaped a resolver
  (the mask hid it from the client; the failure shows the app's traceback from the log);
- an error without a code is only acceptable from parsing or validation, before anything
  ran: it has no `path` and the result has no `data`;
- a masked error says exactly "Unexpected error."; no message — top-level errors, nor the
  `UserError`s in mutation payloads — shows internals (tracebacks, SQL, driver names,
  reprs; and, outside validation, Python exception texts);
- `UserError.code` is never INTERNAL either.

How, and why not schemathesis's own runner:
- Requests go through `httpx.ASGITransport` on the session's event loop, where Tortoise's
  connections live. schemathesis's ASGI transport (`from_asgi`, `case.call()`) runs the app
  on an event loop of its own thread, so Tortoise would reconnect on every switch.
- The strategies come from `API.get_case_strategy`, not `as_strategy()`: the latter patches
  Hypothesis's example printer for the whole process, which would blank the falsifying
  examples of the other property tests in the same run.
- schemathesis's GraphQL checks are not used: they count every error with a `path` as a
  server error, while this API answers refusals (NOT_FOUND, FORBIDDEN) that way on purpose.

Generated values are steered towards what exists, so that resolvers go deep: arguments
that decide the path taken (payment token, promo code, redemption code, owner email, page
size, cursor, credits, idempotency key, free text) draw three times in four from a
schemathesis dictionary of valid and hostile values; an id argument draws three times in
four the global id of a seeded row of its type (ID_ARGUMENTS), and otherwise, like
`node`/`nodes`, mostly a seeded row's global id of any type, sometimes a raw number or
an odd string (which must answer INVALID_INPUT); dates and datetimes include the ends of
the calendar and missing offsets. Redemption codes are deterministic in this module so
that the dictionary knows them. The tables are emptied after each test function, not
between examples: an example sees what earlier ones changed.

Bounded for CI: FUZZ_EXAMPLES examples per operation (default 10). Shrinking is off
unless FUZZ_SHRINK=1: the documents are short, and shrinking against a database that the
examples keep changing mostly costs time. A failure prints the document, the response and
the traceback; `--hypothesis-seed=N` replays a run. A longer hunt:
`FUZZ_EXAMPLES=200 python -m pytest tests/test_fuzz.py`.
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import os
import re
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.graphql import nodes
from schemathesis.schemas import APIOperation

from auth import mint_token
from ledger import codes, throttle
from ledger.expiry import expire_due_lots
from tests.conftest import FrozenClock
from tests.helpers import asgi_app, gid

ROOT = Path(__file__).resolve().parent.parent
MASKED_MESSAGE = "Unexpected error."

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
PHASES = (
    (Phase.explicit, Phase.generate, Phase.shrink)
    if os.environ.get("FUZZ_SHRINK")
    else (Phase.explicit, Phase.generate)
)

# --- callers -----------------------------------------------------------------------------

OWNER = ("ann@example.com", "Ann Owner")
CO_OWNER = ("bob@example.com", "Bob Owner")
LEARNER = ("lee@example.com", "Lee Learner")
SUPPORT = ("help@credits.example", "Sam Support")
CALLERS = ("anonymous", "learner", "support", "owner")

# --- generated values ----------------------------------------------------------------------

START = datetime(2025, 1, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Redemption codes are deterministic in this module: the n-th code made in a test is CODES[n].
CODES = [codes.format_code(f"FVZZ{n:012d}") for n in range(1, 6)]


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(f"k:{value}".encode()).decode()


# Values for the arguments that decide how deep a request goes, used for three in four of
# the arguments they are bound to (schemathesis "dictionaries"); the rest are generated.
TEXT = ("Fuzz Co", "", " ", "\t\n", "\x00", "a\x00b", "%", "_", "'", "\\", "x" * 301, "é" * 2001)
DICTIONARIES: dict[str, tuple[str | int, ...]] = {
    "pages": (0, 1, 2, 20, 100, 101, -1),
    "cursors": (
        *(_cursor(n) for n in (1, 2, 3, 5, 0, -1, 2**31, 2**63, 10**30)),
        _cursor(""),
        _cursor("\uff11"),  # a digit to int(), not to the eye
        "k:1",
        "",
    ),
    "credits": (1, 5, 100, 250, 16_000, 19_999, 20_000, 10_000_000, 10_000_001, 0, -5),
    "promo_codes": ("twentyoffTC", "TWENTYOFFTC", " twentyoffTC ", "\x00", "x" * 65),
    "payment_tokens": ("tok_visa", "tok_visa", "tok_chargeDeclined", "\x00", "x" * 300),
    "idempotency_keys": ("k-1", "k-2", "seed-1", "r-approved", "r-pending", "\x00", "x" * 256),
    "redemption_codes": (
        *CODES[:3],
        CODES[0].lower().replace("-", " "),
        CODES[0].replace("-", ""),
        CODES[0] + "\x00",
    ),
    "emails": (
        OWNER[0],
        CO_OWNER[0],
        LEARNER[0],
        SUPPORT[0],
        "  ANN@Example.com ",
        "new@example.org",
        "a\x00@example.org",
        "x@" + "y" * 320 + ".com",
        "not an email",
    ),
    "skus": ("SKU-A", "SKU-B", "SKU-C", "NEW-1", " SKU-A ", "a" * 65, "\x00"),
    "text": TEXT,
}
BINDINGS: dict[str, tuple[str, ...]] = {
    "pages": ("*.*.first", "*.*.last"),
    "cursors": ("*.*.after", "*.*.before"),
    "credits": (
        "*.*.credits",
        "*.*.input.credits",
        "*.*.input.priceCredits",
        "*.*.input.autoApproveLimit",
    ),
    "promo_codes": ("*.*.promoCode", "*.*.input.promoCode"),
    "payment_tokens": ("*.*.input.paymentToken",),
    "idempotency_keys": ("*.*.input.idempotencyKey",),
    "redemption_codes": ("*.*.input.code",),
    "emails": ("*.*.input.email",),
    "skus": ("*.*.input.sku",),
    "text": (
        "*.*.search",
        "*.*.input.name",
        "*.*.input.reason",
        "*.*.input.message",
        "*.*.input.title",
        "*.*.input.invoiceNumber",
    ),
}
SCHEMA_SDL = (ROOT / "schema" / "schema.graphql").read_text(encoding="utf-8")


def _node_types() -> tuple[str, ...]:
    """The types whose ids are global ids: every implementation of Node."""
    schema = graphql.build_schema(SCHEMA_SDL)
    node = schema.get_type("Node")
    assert isinstance(node, graphql.GraphQLInterfaceType)
    return tuple(sorted(kind.name for kind in schema.get_implementations(node).objects))


NODE_TYPES = _node_types()
SEEDED_PKS = range(1, 9)  # the seeded world's rows of each Node type are among these


def _seeded_ids(type_name: str) -> list[str]:
    return [gid(type_name, n) for n in SEEDED_PKS]


# Which type's global id each id argument takes (`Type.field.argument path`, as the
# dictionaries bind them; node and nodes take any). The seeded ids of that type fill it
# three times in four, so the resolver behind it goes past the id; the rest are drawn by
# _ids() below. test_every_id_argument_is_steered_to_its_type keeps this list whole.
ID_ARGUMENTS: dict[str, str] = {
    "Query.account.id": "Account",
    **{
        f"Query.{name}.accountId": "Account"
        for name in (
            "balance",
            "lots",
            "transactions",
            "redemptions",
            "quoteRequests",
            "auditLog",
            "usageReport",
            "exportLink",
        )
    },
    **{
        f"Mutation.{name}.input.accountId": "Account"
        for name in (
            "updateAccount",
            "addAccountOwner",
            "removeAccountOwner",
            "rotateRedemptionCode",
            "purchaseCredits",
            "requestQuote",
            "adjustCredits",
        )
    },
    "Mutation.redeemCredits.input.courseId": "Course",
    "Mutation.approveRedemptions.input.ids[*]": "Redemption",
    "Mutation.denyRedemptions.input.ids[*]": "Redemption",
    "Mutation.cancelRedemption.input.id": "Redemption",
    "Mutation.reverseRedemption.input.id": "Redemption",
    "Mutation.deactivateCourse.input.id": "Course",
    "Mutation.cancelQuote.input.id": "QuoteRequest",
    "Mutation.fulfilQuote.input.id": "QuoteRequest",
    "Mutation.extendLot.input.id": "Lot",
    "Query.webhookEndpoints.accountId": "Account",
    "Query.webhookDeliveries.endpointId": "WebhookEndpoint",
    "Mutation.createWebhookEndpoint.input.accountId": "Account",
    "Mutation.updateWebhookEndpoint.input.id": "WebhookEndpoint",
    "Mutation.deleteWebhookEndpoint.input.id": "WebhookEndpoint",
    "Mutation.pingWebhookEndpoint.input.id": "WebhookEndpoint",
    "Mutation.redeliverWebhook.input.deliveryId": "WebhookDelivery",
}
ANY_NODE = ("Query.node.id", "Query.nodes.ids[*]")
CONFIG = SchemathesisConfig.from_dict(
    {
        "dictionaries": {
            **{name: {"values": list(values)} for name, values in DICTIONARIES.items()},
            **{f"ids-{kind}": {"values": _seeded_ids(kind)} for kind in NODE_TYPES},
        },
        "parameters": {
            **{
                key: {"dictionary": name, "probability": 0.75}
                for name, keys in BINDINGS.items()
                for key in keys
            },
            **{
                key: {"dictionary": f"ids-{kind}", "probability": 0.75}
                for key, kind in ID_ARGUMENTS.items()
            },
        },
    }
)
# Ids that are not a seeded row's global id of the right type: raw row ids (what the API
# took before global ids), keys out of range or not numbers inside a well-formed global
# id, unknown or misspelt type names, and text that is not base64 of "<Type>:<key>".
ODD_KEYS = (
    "0",
    "-1",
    "2147483647",
    "2147483648",
    "9223372036854775808",
    " 1",
    "1.0",
    "",
    "\uff11",  # a digit to int(), not to the eye
    "9" * 5000,  # past int()'s digit limit
)


def _odd_global_id(type_name: str, key: str) -> str:
    """A global id as graph.ids makes them, around a key that is not a row id."""
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


ODD_IDS = st.one_of(
    st.sampled_from(("1", "2", *ODD_KEYS)),  # raw row ids, and odd ones
    st.builds(_odd_global_id, st.sampled_from(NODE_TYPES), st.sampled_from(ODD_KEYS)),
    st.sampled_from(
        (
            gid("Nope", 1),
            gid("lot", 2),
            gid("Node", 1),
            gid("PageInfo", 1),
            gid("Lot", 2) + "==",  # padded
            gid("Lot", 2) + "===",
            gid("Lot:2", 1),
            base64.urlsafe_b64encode(b"Lot").decode(),  # no key
            base64.urlsafe_b64encode(b":2").decode(),  # no type
            base64.urlsafe_b64encode(b"\xffLot:2").decode(),  # not text
            "Lot:2",
            gid("Lot", 2)[:-1],  # a character lost
            "\x00",
        )
    ),
)


def _ids() -> st.SearchStrategy[graphql.ValueNode]:
    """Two times in three the global id of a seeded row (of any Node type); otherwise a
    raw number, an odd id or anything at all, which must answer INVALID_INPUT."""
    seeded = st.builds(gid, st.sampled_from(NODE_TYPES), st.sampled_from(SEEDED_PKS))
    return st.one_of(
        seeded.map(nodes.String),
        seeded.map(nodes.String),
        st.one_of(
            ODD_IDS.map(nodes.String),
            st.sampled_from(SEEDED_PKS).map(nodes.Int),
            st.integers().map(nodes.Int),
            st.text().map(nodes.String),
        ),
    )


ZONES = st.sampled_from(
    (UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12)), timezone(timedelta(0)))
)
EDGE_DATES = ("0001-01-01", "9999-12-31", "2026-02-29", "2028-02-29", "2026-13-01", "yesterday")
EDGE_DATETIMES = (
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-12:00",
    "2026-03-01T09:00:00",  # no offset
    "2026-03-01",
    "2027-02-28T23:59:59.999999Z",
    "soon",
)


def _dates() -> st.SearchStrategy[graphql.ValueNode]:
    return st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(EDGE_DATES)).map(
        nodes.String
    )


def _datetimes() -> st.SearchStrategy[graphql.ValueNode]:
    aware = st.datetimes(timezones=ZONES).map(lambda d: d.isoformat())
    near = st.integers(-800, 800).map(lambda days: (NOW + timedelta(days=days)).isoformat())
    return st.one_of(near, aware, st.sampled_from(EDGE_DATETIMES)).map(nodes.String)


# hypothesis-graphql consults these before its built-in scalar strategies.
schemathesis.graphql.scalar("ID", _ids())
schemathesis.graphql.scalar("Date", _dates())
schemathesis.graphql.scalar("DateTime", _datetimes())

API = schemathesis.graphql.from_path(ROOT / "schema" / "schema.graphql", config=CONFIG)
Operation = APIOperation[Any, Any, Any, Any]


def _operations() -> list[Operation]:
    """Every root field of Query and Mutation: one operation each."""
    found = []
    for result in API.get_all_operations():
        assert isinstance(result, Ok), result
        found.append(result.ok())
    return found


OPERATIONS = _operations()


def _error_codes() -> frozenset[str]:
    enum = API.client_schema.get_type("ErrorCode")
    assert isinstance(enum, graphql.GraphQLEnumType)
    return frozenset(enum.values)


ERROR_CODES = _error_codes()
STRATEGIES = {
    (operation.label, mode): API.get_case_strategy(operation, generation_mode=mode)
    for operation in OPERATIONS
    for mode in GenerationMode
}

# --- the checks --------------------------------------------------------------------------

# Internals in any message: tracebacks, source paths, SQL, the database drivers, reprs.
INTERNALS = re.compile(
    "|".join(
        (
            r"Traceback \(most recent call last\)",
            r'File "[^"]+", line \d+',
            r"(?i:\b(?:sqlite3?|asyncpg|psycopg2?|tortoise|pypika|aiosqlite)\b)",
            r"\b(?:SELECT|INSERT INTO|DELETE FROM)\b|\bUPDATE \S+ SET\b",
            r"(?i:constraint|duplicate key|no such (?:table|column)|relation \")",
            r"object at 0x[0-9a-f]+|<[A-Za-z_.]+ object",
        )
    )
)
# Python exception texts: internals in an answer from a resolver. The validator quotes the
# scalar's parse error ("Value cannot represent a Date: ... day is out of range for month"),
# which describes the caller's own literal, so they are not looked for in validation errors.
EXCEPTION_TEXT = re.compile(
    "|".join(
        (
            r"\b[A-Z][A-Za-z]*(?:Error|Exception)\b",
            r"NoneType|has no attribute|invalid literal for|unsupported operand|not subscriptable",
            r"positional argument|unexpected keyword argument|offset-naive|offset-aware",
            # datetime's and int()'s words ("year 0 is out of range", "day is out of range
            # for month"), not the API's own ("expiresAt is out of range")
            r"(?i:\b(?:year -?\d+|day|month|date value) (?:is )?out of range)",
            r"(?i:too large to convert|overflow|isoformat)",
        )
    )
)


def _leak(message: str, document: str, *patterns: re.Pattern[str]) -> str | None:
    """Internals in a message: a marker that the caller did not send themselves."""
    for pattern in patterns:
        for match in pattern.finditer(message):
            if match.group(0) not in document:
                return match.group(0)
    return None


def _user_errors(data: object) -> Iterator[dict[str, Any]]:
    """Every selected `UserError` in a result's data (objects in a list called `errors`)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "errors" and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))
            else:
                yield from _user_errors(value)
    elif isinstance(data, list):
        for item in data:
            yield from _user_errors(item)


def problems_with(response: httpx.Response, document: str) -> list[str]:
    """How an answer breaks the API contract; empty when it keeps it."""
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}"]
    try:
        body = response.json()
    except ValueError:
        return [f"HTTP {response.status_code} with a body that is not JSON"]
    if not isinstance(body, dict) or not ({"data", "errors"} & body.keys()):
        return [f"HTTP {response.status_code} with a body that is not a GraphQL result"]
    found: list[str] = []
    data = body.get("data")
    for error in body.get("errors") or []:
        message = str(error.get("message", ""))
        code = (error.get("extensions") or {}).get("code")
        where = f"error at {error.get('path')}" if "path" in error else "error"
        if code == "INTERNAL":
            found.append(f"INTERNAL {where} (an unexpected exception was masked)")
            if message != MASKED_MESSAGE:
                found.append(f"INTERNAL {where} is not masked: {message!r}")
            continue
        # An error without a code must come from validation or parsing: nothing ran.
        validation = code is None and "path" not in error and data is None
        if code is None and not validation:
            found.append(f"{where} without extensions.code: {message!r}")
        elif code is not None and code not in ERROR_CODES:
            found.append(f"{where} with a code outside ErrorCode: {code!r}")
        patterns = (INTERNALS,) if validation else (INTERNALS, EXCEPTION_TEXT)
        leak = _leak(message, document, *patterns)
        if leak:
            found.append(f"{where} ({code}) shows internals ({leak!r}): {message!r}")
    for user_error in _user_errors(data):
        code = user_error.get("code")
        message = str(user_error.get("message", ""))
        if code == "INTERNAL":
            found.append(f"UserError with code INTERNAL: {message!r}")
        leak = _leak(message, document, INTERNALS, EXCEPTION_TEXT)
        if leak:
            found.append(f"UserError ({code}) shows internals ({leak!r}): {message!r}")
    return found


class _Records(logging.Handler):
    """The app's log records with an exception, while one request runs."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.tracebacks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            self.tracebacks.append(f"[{record.name}] {record.getMessage()}\n{text}")


@contextmanager
def app_tracebacks() -> Iterator[_Records]:
    handler = _Records()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# --- the world every caller sees ----------------------------------------------------------


@dataclass
class World:
    """The app, and a bearer token per caller (None: anonymous)."""

    http: httpx.AsyncClient = field(repr=False)
    tokens: dict[str, str | None] = field(repr=False)

    async def post(
        self, caller: str, query: str, variables: dict[str, Any] | None = None
    ) -> httpx.Response:
        token = self.tokens[caller]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    async def ok(
        self, caller: str, name: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The payload of a seeding mutation, which must succeed."""
        response = await self.post(caller, query, variables)
        body = response.json()
        assert not body.get("errors"), body
        payload = dict(body["data"][name])
        assert not payload.get("errors"), payload
        return payload


# The seeded rows that the regression documents name, in the order seed() makes them.
ACCOUNT = gid("Account", 1)
COURSE_A = gid("Course", 1)
EXPIRED_LOT, EXTENDED_LOT = gid("Lot", 1), gid("Lot", 2)
APPROVED, REVERSED, PENDING, DENIED, CANCELLED = (gid("Redemption", n) for n in range(1, 6))
OPEN_QUOTE, FULFILLED_QUOTE, CANCELLED_QUOTE = (gid("QuoteRequest", n) for n in range(1, 4))

SEED_COURSE = """mutation($sku: String!, $price: Int!, $active: Boolean) {
  upsertCourse(input: {sku: $sku, title: $sku, priceCredits: $price, active: $active}) {
    course { id } errors { code } } }"""
SEED_ACCOUNT = """mutation { createAccount(input: {name: "Fuzz Co"}) {
  account { id redemptionCode } errors { code } } }"""
SEED_BUY = """mutation($credits: Int!, $key: String!, $promo: String) {
  purchaseCredits(input: {credits: $credits, paymentToken: "tok_visa", idempotencyKey: $key,
                          promoCode: $promo}) {
    purchase { id lot { id } } errors { code } } }"""
SEED_REDEEM = """mutation($code: String!, $course: ID!, $key: String!) {
  redeemCredits(input: {code: $code, courseId: $course, idempotencyKey: $key}) {
    redemption { id status } errors { code } } }"""
SEED_MANUAL = """mutation { updateAccount(input: {approvalMode: MANUAL, autoApproveLimit: 10}) {
  account { id } errors { code } } }"""
SEED_DENY = """mutation($id: ID!) { denyRedemptions(input: {ids: [$id], reason: "no"}) {
  totalCredits errors { code } } }"""
SEED_CANCEL = """mutation($id: ID!) { cancelRedemption(input: {id: $id}) {
  redemption { id } errors { code } } }"""
SEED_REVERSE = """mutation($id: ID!) { reverseRedemption(input: {id: $id, reason: "refund"}) {
  redemption { id } errors { code } } }"""
SEED_QUOTE = """mutation($credits: Int!) { requestQuote(input: {credits: $credits, message: "PO"}) {
  quoteRequest { id } errors { code } } }"""
SEED_FULFIL = """mutation($id: ID!) { fulfilQuote(input: {id: $id, invoiceNumber: "INV-1"}) {
  quoteRequest { id } errors { code } } }"""
SEED_CANCEL_QUOTE = """mutation($id: ID!) { cancelQuote(input: {id: $id, reason: "later"}) {
  quoteRequest { id } errors { code } } }"""
SEED_EXTEND = """mutation($id: ID!, $at: DateTime!) {
  extendLot(input: {id: $id, expiresAt: $at, reason: "goodwill"}) {
    lot { id } errors { code } } }"""
SEED_ADJUST = """mutation($account: ID!, $credits: Int!) {
  adjustCredits(input: {accountId: $account, credits: $credits, reason: "fix"}) {
    account { id } errors { code } } }"""
SEED_OWNER = """mutation($email: String!) { addAccountOwner(input: {email: $email}) {
  account { id } errors { code } } }"""


async def seed(world: World, clock: FrozenClock) -> None:
    """An account with history: lots active, extended and expired (the expiry job ran),
    redemptions in every state, quotes open, fulfilled and cancelled, and two owners."""
    clock.set(START)
    course = []
    for sku, price, active in (("SKU-A", 100, True), ("SKU-B", 250, True), ("SKU-C", 40, False)):
        made = await world.ok(
            "support", "upsertCourse", SEED_COURSE, {"sku": sku, "price": price, "active": active}
        )
        course.append(made["course"]["id"])
    account = (await world.ok("owner", "createAccount", SEED_ACCOUNT))["account"]
    code = account["redemptionCode"]
    first = await world.ok("owner", "purchaseCredits", SEED_BUY, {"credits": 500, "key": "seed-1"})

    async def redeem(course_id: str, key: str) -> str:
        payload = await world.ok(
            "learner", "redeemCredits", SEED_REDEEM, {"code": code, "course": course_id, "key": key}
        )
        return str(payload["redemption"]["id"])

    approved = await redeem(course[0], "r-approved")
    clock.set(START + timedelta(days=230))
    second = await world.ok(
        "owner",
        "purchaseCredits",
        SEED_BUY,
        {"credits": 20_000, "key": "seed-2", "promo": "twentyoffTC"},
    )
    reversed_ = await redeem(course[1], "r-reversed")
    await world.ok("support", "reverseRedemption", SEED_REVERSE, {"id": reversed_})
    await world.ok("owner", "updateAccount", SEED_MANUAL)
    pending = await redeem(course[0], "r-pending")
    denied = await redeem(course[1], "r-deny")
    await world.ok("owner", "denyRedemptions", SEED_DENY, {"id": denied})
    cancelled = await redeem(course[0], "r-c")
    await world.ok("learner", "cancelRedemption", SEED_CANCEL, {"id": cancelled})

    async def quote(credits: int) -> str:
        payload = await world.ok("owner", "requestQuote", SEED_QUOTE, {"credits": credits})
        return str(payload["quoteRequest"]["id"])

    open_quote = await quote(25_000)
    fulfilled = await quote(1_000)
    await world.ok("support", "fulfilQuote", SEED_FULFIL, {"id": fulfilled})
    cancelled_quote = await quote(2_000)
    await world.ok("owner", "cancelQuote", SEED_CANCEL_QUOTE, {"id": cancelled_quote})
    clock.set(NOW)  # the first lot has expired
    await expire_due_lots()
    extended = second["purchase"]["lot"]["id"]
    await world.ok(
        "support", "extendLot", SEED_EXTEND, {"id": extended, "at": "2027-06-30T00:00:00Z"}
    )
    await world.ok(
        "support", "adjustCredits", SEED_ADJUST, {"account": account["id"], "credits": 50}
    )
    await world.ok(
        "support", "adjustCredits", SEED_ADJUST, {"account": account["id"], "credits": -10}
    )
    await world.ok("owner", "addAccountOwner", SEED_OWNER, {"email": CO_OWNER[0]})
    # The regression documents name these rows by their ids.
    assert (account["id"], course[0], first["purchase"]["lot"]["id"], extended) == (
        ACCOUNT,
        COURSE_A,
        EXPIRED_LOT,
        EXTENDED_LOT,
    )
    assert (approved, reversed_, pending, denied, cancelled) == (
        APPROVED,
        REVERSED,
        PENDING,
        DENIED,
        CANCELLED,
    )
    assert (open_quote, fulfilled, cancelled_quote) == (
        OPEN_QUOTE,
        FULFILLED_QUOTE,
        CANCELLED_QUOTE,
    )


@pytest.fixture
def deterministic_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The n-th redemption code made in a test is CODES[n], so the dictionary knows it."""
    made = itertools.count()

    def generate() -> str:
        n = next(made)
        return CODES[n] if n < len(CODES) else codes.format_code(f"FVZZ{n + 1:012d}")

    monkeypatch.setattr(codes, "generate_code", generate)


@pytest.fixture
async def seeded(clock: FrozenClock, deterministic_codes: None) -> AsyncIterator[World]:
    """The callers, and the owner's account with its history (the tables are emptied after)."""
    tokens: dict[str, str | None] = {
        "anonymous": None,
        "owner": mint_token(email=OWNER[0], name=OWNER[1]),
        "learner": mint_token(email=LEARNER[0], name=LEARNER[1]),
        "support": mint_token(email=SUPPORT[0], name=SUPPORT[1], support=True),
    }
    transport = httpx.ASGITransport(app=asgi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        world = World(http=http, tokens=tokens)
        await seed(world, clock)
        yield world
    throttle.set_counter(None)


# --- the tests ---------------------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    phases=PHASES,
    deadline=None,
    database=None,  # a saved example would replay against other data; failures print a blob
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the world is per test, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


Check = Callable[[httpx.Response, str], list[str]]


async def _problems(
    world: World, document: str, callers: tuple[str, ...], check: Check = problems_with
) -> list[str]:
    """Send a document as each caller in turn; a report of what went wrong, if anything."""
    report: list[str] = []
    for caller in callers:
        # Every request may try a redemption code afresh: the wrong-code limit has its tests.
        throttle.set_counter(throttle.MemoryCounter())
        with app_tracebacks() as logged:
            response = await world.post(caller, document)
        found = check(response, document)
        if found:
            report += [
                f"--- as {caller}: " + "; ".join(found),
                f"HTTP {response.status_code} {response.text}",
                *(f"app traceback:\n{text}" for text in logged.tracebacks),
            ]
    return ["document:", document, *report] if report else []


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
@FUZZ_SETTINGS
@given(data=st.data())
async def test_generated_operations_keep_the_error_contract(
    operation: Operation, seeded: World, data: st.DataObject
) -> None:
    """A valid document as every caller, then one the validator must refuse cleanly."""
    valid = data.draw(STRATEGIES[operation.label, GenerationMode.POSITIVE], label="valid")
    invalid = data.draw(STRATEGIES[operation.label, GenerationMode.NEGATIVE], label="invalid")
    report = await _problems(seeded, str(valid.body), CALLERS)
    report += await _problems(seeded, str(invalid.body), ("anonymous", "owner"))
    # An AssertionError, not pytest.fail(): Hypothesis adds its reproduction blob as a note.
    assert not report, "\n".join([operation.label, *report])


# Documents that broke the contract, cut down to what matters, so that they run on every
# build whatever the random examples turn out to be: the fuzzer's findings, and the same
# faults tried by hand on the other inputs of their kind (a NUL in every stored text, year 1
# as well as year 9999). The ids they name are the seeded rows below (seed() checks them),
# so that each goes past its id to the input it is about.
FOUND_BY_FUZZING: tuple[tuple[str, str], ...] = (
    ("owner", '{ lots(after: "' + _cursor(2**63) + '") { totalCount } }'),
    ("owner", '{ transactions(after: "' + _cursor(2**31) + '") { totalCount } }'),
    ("owner", '{ usageReport(to: "9999-12-31") { to } }'),
    ("owner", '{ usageReport(to: "0001-01-31") { from } }'),
    (
        "support",
        'mutation { extendLot(input: {id: "'
        + EXTENDED_LOT
        + '", expiresAt: "9999-12-31T23:59:59-12:00", reason: "goodwill"}) {'
        + " lot { expiresAt } errors { code field } } }",
    ),
    (  # year 1 at +14:00 is year 0 in UTC: the API's message, not datetime's
        "support",
        'mutation { extendLot(input: {id: "'
        + EXTENDED_LOT
        + '", expiresAt: "0001-01-01T00:00:00+14:00", reason: "goodwill"}) {'
        + " errors { code message field } } }",
    ),
    ("owner", 'mutation { updateAccount(input: {name: "\\u0000x"}) { errors { code } } }'),
    ("learner", 'mutation { createAccount(input: {name: "\\u0000x"}) { errors { code } } }'),
    ("support", '{ accounts(search: "\\u0000") { totalCount } }'),
    (
        "owner",
        """mutation { requestQuote(input: {credits: 100, message: "\\u0000"}) {
           errors { code } } }""",
    ),
    (
        "owner",
        """mutation { purchaseCredits(input: {credits: 5, paymentToken: "tok_visa",
           idempotencyKey: "\\u0000"}) { errors { code } } }""",
    ),
    (
        "owner",
        'mutation { addAccountOwner(input: {email: "a\\u0000@example.org"}) { errors { code } } }',
    ),
    (
        "support",
        """mutation { upsertCourse(input: {sku: "NUL-1", title: "a\\u0000", priceCredits: 5}) {
           errors { code } } }""",
    ),
    (
        "learner",
        'mutation { redeemCredits(input: {code: "'
        + CODES[0]
        + '", courseId: "'
        + COURSE_A
        + '", idempotencyKey: "\\u0000"}) { errors { code field } } }',
    ),
    (
        "owner",
        'mutation { denyRedemptions(input: {ids: ["'
        + PENDING
        + '"], reason: "\\u0000"}) { errors { code field } } }',
    ),
    (
        "support",
        'mutation { reverseRedemption(input: {id: "'
        + APPROVED
        + '", reason: "\\u0000"}) { errors { code field } } }',
    ),
    (
        "support",
        'mutation { fulfilQuote(input: {id: "'
        + OPEN_QUOTE
        + '", invoiceNumber: "\\u0000"}) { errors { code field } } }',
    ),
    (
        "owner",
        'mutation { cancelQuote(input: {id: "'
        + OPEN_QUOTE
        + '", reason: "\\u0000"}) { errors { code field } } }',
    ),
    (
        "support",
        'mutation { adjustCredits(input: {accountId: "'
        + ACCOUNT
        + '", credits: 5, reason: "\\u0000"}) { errors { code field } } }',
    ),
)


ID_NAMES = frozenset(
    key.rpartition(".")[2].removesuffix("[*]") for key in (*ID_ARGUMENTS, *ANY_NODE)
)


def id_refusals(response: httpx.Response, document: str) -> list[str]:
    """Errors naming an id argument (`field`): the document stopped at its id, short of
    the input it is about."""
    try:
        body = response.json()
        errors = [error.get("extensions") or {} for error in body.get("errors") or []]
        errors += _user_errors(body.get("data"))
    except (ValueError, AttributeError):
        return []  # not a GraphQL result: problems_with says so
    return [
        f"{error.get('code')} for the id {error['field']}"
        for error in errors
        if isinstance(error.get("field"), list) and set(error["field"]) & ID_NAMES
    ]


def _regression_check(response: httpx.Response, document: str) -> list[str]:
    return problems_with(response, document) + id_refusals(response, document)


async def test_documents_found_by_fuzzing_keep_the_error_contract(seeded: World) -> None:
    report: list[str] = []
    for caller, document in FOUND_BY_FUZZING:
        report += await _problems(seeded, document, (caller,), _regression_check)
    assert not report, "\n".join(report)


def _check(body: object, status: int = 200, document: str = "{ x }") -> list[str]:
    return problems_with(httpx.Response(status, content=json.dumps(body).encode()), document)


def test_the_checks_accept_answers_that_keep_the_contract() -> None:
    validation = {"message": "Cannot query field 'x' on type 'Query'.", "locations": []}
    assert _check({"data": None, "errors": [validation]}) == []
    refused = {"message": "no such account", "path": ["x"], "extensions": {"code": "NOT_FOUND"}}
    assert _check({"data": None, "errors": [refused]}) == []
    user_error = {"code": "INVALID_PROMO_CODE", "message": "no promo code 'ValueError'"}
    echoed = {"data": {"x": {"errors": [user_error]}}}
    assert _check(echoed, document='{ x(promoCode: "ValueError") }') == []
    assert _check({"data": {"x": {"errors": [{"field": ["name"]}]}}}) == []
    ours = {"code": "INVALID_INPUT", "message": "expiresAt is out of range"}
    assert _check({"data": {"x": {"errors": [ours]}}}) == []


def test_the_checks_catch_every_kind_of_finding() -> None:
    masked = {"message": MASKED_MESSAGE, "path": ["x"], "extensions": {"code": "INTERNAL"}}
    assert len(_check({"data": None, "errors": [masked]})) == 1
    assert len(_check({"data": None, "errors": [{**masked, "message": "division by zero"}]})) == 2
    uncoded = {"message": "Int cannot represent non 32-bit signed integer value", "path": ["x"]}
    assert _check({"data": None, "errors": [uncoded]})
    assert _check({"data": {"x": 1}, "errors": [{"message": "late", "locations": []}]})
    assert _check({"data": None, "errors": [{"message": "x", "extensions": {"code": "NOPE"}}]})
    leaky = {"code": "INVALID_INPUT", "message": "UNIQUE constraint failed: user.email"}
    assert _check({"data": {"x": {"errors": [leaky]}}})
    spilled = {"message": "'NoneType' object has no attribute 'id'", "path": ["x"]}
    assert _check({"data": None, "errors": [{**spilled, "extensions": {"code": "NOT_FOUND"}}]})
    assert _check({"data": {"x": {"errors": [{"code": "INTERNAL", "message": "x"}]}}})
    for python in ("year 0 is out of range", "date value out of range", "day is out of range"):
        assert _check({"data": {"x": {"errors": [{"code": "INVALID_INPUT", "message": python}]}}})
    assert _check("oops", status=500) == ["HTTP 500"]
    assert _check([1, 2])


# --- id arguments --------------------------------------------------------------------------


def _id_arguments() -> dict[str, tuple[graphql.GraphQLField, graphql.GraphQLArgument]]:
    """Every id argument of the root fields, keyed as ID_ARGUMENTS is (an input object's
    fields after a dot, a list's elements as `[*]`), with its field and root argument."""
    found: dict[str, tuple[graphql.GraphQLField, graphql.GraphQLArgument]] = {}

    def visit(key: str, kind: graphql.GraphQLInputType, at: Any) -> None:
        named = graphql.get_named_type(kind)
        if isinstance(named, graphql.GraphQLInputObjectType):
            for name, field_ in named.fields.items():
                visit(f"{key}.{name}", field_.type, at)
        elif named.name == "ID":
            listed = isinstance(graphql.get_nullable_type(kind), graphql.GraphQLList)
            found[key + ("[*]" if listed else "")] = at

    for root in (API.client_schema.query_type, API.client_schema.mutation_type):
        assert root is not None
        for field_name, field_ in root.fields.items():
            for name, argument in field_.args.items():
                visit(f"{root.name}.{field_name}.{name}", argument.type, (field_, argument))
    return found


def test_every_id_argument_is_steered_to_its_type() -> None:
    """A new id argument gets its type's seeded ids, or the fuzzer rarely goes past it."""
    assert set(_id_arguments()) == {*ID_ARGUMENTS, *ANY_NODE}
    assert set(ID_ARGUMENTS.values()) <= set(NODE_TYPES)


# What the other required inputs of an id argument's field get, so that only the id is wrong.
FILLED: dict[str, object] = {
    "code": CODES[0],
    "email": "new@example.org",
    "paymentToken": "tok_visa",
    "expiresAt": "2027-01-01T00:00:00Z",
}


def _filler(name: str, kind: graphql.GraphQLInputType) -> object:
    """A valid value of a required input (ids: a seeded row of the right type)."""
    named = graphql.get_named_type(kind)
    value: object
    if name in FILLED:
        value = FILLED[name]
    elif isinstance(named, graphql.GraphQLInputObjectType):
        value = {
            field_name: _filler(field_name, field_.type)
            for field_name, field_ in named.fields.items()
            if graphql.is_required_input_field(field_)
        }
    elif isinstance(named, graphql.GraphQLEnumType):
        value = next(iter(named.values))
    else:
        value = {"Int": 5, "Boolean": False, "Date": "2026-01-01", "ID": gid("Account", 1)}.get(
            named.name, "fuzz"
        )
    return [value] if isinstance(graphql.get_nullable_type(kind), graphql.GraphQLList) else value


def _odd_id_request(key: str, value: object) -> tuple[str, dict[str, Any]]:
    """A document and its variables sending `value` as id argument `key`, with the other
    required inputs valid."""
    field_, argument = _id_arguments()[key]
    root, field_name, argument_name, *path = key.removesuffix("[*]").split(".")
    arguments = {argument_name: argument} | {
        name: other
        for name, other in field_.args.items()
        if graphql.is_required_argument(other) and name != argument_name
    }
    variables: dict[str, Any] = {
        name: _filler(name, other.type) for name, other in arguments.items()
    }
    target, last = variables, argument_name
    for name in path:  # down the input objects to the id's field
        target, last = target[last], name
    target[last] = [value] if key.endswith("[*]") else value
    declared = ", ".join(f"${name}: {other.type}" for name, other in arguments.items())
    passed = ", ".join(f"{name}: ${name}" for name in arguments)
    named = graphql.get_named_type(field_.type)
    selection = (
        "{ errors { code field } }"
        if isinstance(named, graphql.GraphQLObjectType) and "errors" in named.fields
        else "{ __typename }"
    )
    verb = "query" if root == "Query" else "mutation"
    return f"{verb}({declared}) {{ {field_name}({passed}) {selection} }}", variables


def _odd_ids(type_name: str | None) -> list[object]:
    """Ids an argument taking `type_name`'s ids (None: any Node) must refuse."""
    kind = type_name or "Account"
    other = next(name for name in ("Lot", "Course") if name != type_name)
    return [
        "1",  # a raw row id: what the API took before global ids
        1,
        "0",
        "2147483648",
        "",
        "Lot:2",
        gid(kind, 0),
        gid(kind, 2**31),
        _odd_global_id(kind, "1.0"),
        gid("Nope", 1),
        *([gid(other, 1)] if type_name else [gid("PageInfo", 1)]),
    ]


def _refusal(body: dict[str, Any], argument: str) -> str | None:
    """How an answer is not INVALID_INPUT naming `argument`, or None when it is."""
    errors = [error.get("extensions") or {} for error in body.get("errors") or []]
    errors += _user_errors(body.get("data"))
    if any(e.get("code") == "INVALID_INPUT" and argument in (e.get("field") or []) for e in errors):
        return None
    return json.dumps(body)[:300]


@pytest.mark.parametrize("key", sorted({*ID_ARGUMENTS, *ANY_NODE}))
async def test_ids_that_are_not_this_types_global_ids_answer_invalid_input(
    key: str, seeded: World
) -> None:
    """A raw number, an odd key in a global id, another type's id: INVALID_INPUT naming
    the argument, for the owner and for support, whatever the argument."""
    argument = key.removesuffix("[*]").rpartition(".")[2]
    report: list[str] = []
    for value in _odd_ids(ID_ARGUMENTS.get(key)):
        document, variables = _odd_id_request(key, value)
        for caller in ("owner", "support"):
            throttle.set_counter(throttle.MemoryCounter())
            response = await seeded.post(caller, document, variables)
            problem = "; ".join(problems_with(response, document)) or _refusal(
                response.json(), argument
            )
            if problem:
                report.append(f"{value!r} as {caller}: {problem}")
    # The same request with a seeded row's id gets past the id: the refusals were the id's.
    document, variables = _odd_id_request(key, gid(ID_ARGUMENTS.get(key, "Account"), 1))
    response = await seeded.post("support", document, variables)
    if problems_with(response, document) or _refusal(response.json(), argument) is None:
        report.append(f"a seeded id as support: {response.text[:300]}")
    assert not report, "\n".join([document, *report])
