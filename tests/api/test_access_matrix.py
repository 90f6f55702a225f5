"""The access matrix: every root field and every type with an id, for every role, and
proof that `ledger.access` made the decision.

Each public function of `ledger.access` is replaced by a recorder (rules call them as
`access.<function>`). A call the matrix expects to be refused must have been refused by
one of them (it raised the answer's code, or left the resource out); a call it expects
to be allowed must have asked them and been let through. The root fields come from the
schema the code builds, so a new field or a new type with an id fails here until it is
given a row. The calls are built like the stranger walk's (tests/api/test_authorization.py).

`node(id:)` and `nodes(ids:)` read objects by their global ids: one the caller may not
see answers null, as a missing one does, not an error. Their outcome for a role is one
entry per id asked, OK or NULL, and each must have been decided by the rule of
ledger.access that reads objects of that type.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from graphql import GraphQLObjectType, build_schema

from cli import sdl
from ledger import access
from ledger.errors import LedgerError
from models import (
    AuditEvent,
    Course,
    LedgerEntry,
    Lot,
    Ownership,
    Purchase,
    QuoteRequest,
    WebhookDelivery,
    WebhookEndpoint,
)
from models import Redemption as RedemptionRow
from models import User as UserRow
from tests.api.test_authorization import (
    OVERRIDES,
    RESOURCE_SCOPED,
    _takes_account,
    new_webhook_endpoint,
    operation,
    webhook_endpoints,
)
from tests.helpers import GraphQLClient, buy, create_account, gid, pk, redeem, upsert_course

ROLES = ("anonymous", "stranger", "learner", "support", "owner")
OK = "ok"  # ledger.access was asked and let the caller through
OPEN = "open"  # no access decision: open to every signed-in caller
NOT_FOUND, FORBIDDEN, UNAUTHENTICATED = "NOT_FOUND", "FORBIDDEN", "UNAUTHENTICATED"
# Read by id: ledger.access refused it (NOT_FOUND) and it answered null, as a missing one.
NULL = "null"
# A role's outcome: one of the above, or for a read by id one entry (OK or NULL) per id.
Outcome = str | tuple[str, ...]


def expect(
    stranger: Outcome, learner: Outcome, support: Outcome, owner: Outcome
) -> dict[str, Outcome]:
    """Every field needs a signed-in caller: anonymous is always UNAUTHENTICATED."""
    return {
        "anonymous": UNAUTHENTICATED,
        "stranger": stranger,
        "learner": learner,
        "support": support,
        "owner": owner,
    }


ACCOUNT_SCOPED = expect(stranger=NOT_FOUND, learner=NOT_FOUND, support=OK, owner=OK)
BACK_OFFICE = expect(stranger=FORBIDDEN, learner=FORBIDDEN, support=OK, owner=FORBIDDEN)
OPEN_TO_ALL = expect(stranger=OPEN, learner=OPEN, support=OPEN, owner=OPEN)
ASKED_BY_ALL = expect(stranger=OK, learner=OK, support=OK, owner=OK)

# What `nodes(ids:)` asks for, in this order: the victim's objects of every type with a
# global id, each with the rule of ledger.access that reads its type (resolvers/nodes.py).
READ_BY_ID: tuple[tuple[str, str], ...] = (
    ("accountId", "account_for"),
    ("lotId", "lot_for"),
    ("purchaseId", "purchase_for"),
    ("transactionId", "entry_for"),
    ("quoteId", "quote_for"),
    ("auditEventId", "audit_event_for"),
    ("ownerUserId", "user_for"),  # the victim's owner
    ("redemptionId", "redemption_for_reader"),  # the learner's request
    ("learnerUserId", "user_for"),  # who asked the account for credits
    ("courseId", "course_for"),  # in the catalogue
    ("withdrawnCourseId", "course_for"),
)
READ_RULES = {rule for _, rule in READ_BY_ID}
# Which of those objects each role may read (`user_for`, `redemption_for_reader`,
# `course_for`): the rest answer null.
EVERY_OBJECT = {key for key, _ in READ_BY_ID}
READABLE = {
    "stranger": {"courseId"},
    # The owner decided one of the learner's requests: `decidedBy` shows them to it.
    "learner": {"redemptionId", "learnerUserId", "ownerUserId", "courseId"},
    "support": EVERY_OBJECT,
    "owner": EVERY_OBJECT - {"withdrawnCourseId"},
}


def read_by_id(keys: tuple[str, ...]) -> dict[str, Outcome]:
    """The outcome of reading the victim's objects `keys` by id, for every role."""

    def seen(role: str) -> tuple[str, ...]:
        return tuple(OK if key in READABLE[role] else NULL for key in keys)

    return expect(*(seen(role) for role in ("stranger", "learner", "support", "owner")))


NODE_KEYS = {"Query.node": ("accountId",), "Query.nodes": tuple(k for k, _ in READ_BY_ID)}

# Every root field, with what each role gets when it names the victim's account or
# resources (the learner has requests on that account and owns none).
ROOT_FIELDS: dict[str, dict[str, Outcome]] = {
    "Query.node": read_by_id(NODE_KEYS["Query.node"]),  # null, not NOT_FOUND, if refused
    "Query.nodes": read_by_id(NODE_KEYS["Query.nodes"]),
    "Query.viewer": ASKED_BY_ALL,  # the caller's own account, if any
    "Query.account": ACCOUNT_SCOPED,
    "Query.balance": ACCOUNT_SCOPED,
    "Query.lots": ACCOUNT_SCOPED,
    "Query.transactions": ACCOUNT_SCOPED,
    "Query.priceQuote": OPEN_TO_ALL,  # pure pricing
    "Query.redemptions": ACCOUNT_SCOPED,
    "Query.myRedemptions": OPEN_TO_ALL,  # the caller's own requests, by construction
    "Query.courses": ASKED_BY_ALL,  # the withdrawn ones are support's (sees_inactive_courses)
    "Query.quoteRequests": ACCOUNT_SCOPED,
    "Query.accounts": BACK_OFFICE,
    "Query.auditLog": ACCOUNT_SCOPED,
    "Query.usageReport": ACCOUNT_SCOPED,
    "Query.exportLink": ACCOUNT_SCOPED,
    "Mutation.createAccount": OPEN_TO_ALL,  # the caller's own account
    "Mutation.updateAccount": ACCOUNT_SCOPED,
    "Mutation.addAccountOwner": ACCOUNT_SCOPED,
    "Mutation.removeAccountOwner": ACCOUNT_SCOPED,
    "Mutation.rotateRedemptionCode": ACCOUNT_SCOPED,
    "Mutation.purchaseCredits": ACCOUNT_SCOPED,
    "Mutation.redeemCredits": OPEN_TO_ALL,  # the code is the credential
    "Mutation.approveRedemptions": ACCOUNT_SCOPED,
    "Mutation.denyRedemptions": ACCOUNT_SCOPED,
    "Mutation.cancelRedemption": expect(
        stranger=NOT_FOUND, learner=OK, support=NOT_FOUND, owner=NOT_FOUND
    ),
    "Mutation.upsertCourse": BACK_OFFICE,
    "Mutation.deactivateCourse": BACK_OFFICE,
    "Mutation.requestQuote": ACCOUNT_SCOPED,
    "Mutation.cancelQuote": ACCOUNT_SCOPED,
    "Mutation.fulfilQuote": BACK_OFFICE,
    "Mutation.extendLot": BACK_OFFICE,
    "Mutation.reverseRedemption": BACK_OFFICE,
    "Mutation.adjustCredits": BACK_OFFICE,
    "Query.webhookEndpoints": ACCOUNT_SCOPED,
    "Query.webhookDeliveries": ACCOUNT_SCOPED,
    "Mutation.createWebhookEndpoint": ACCOUNT_SCOPED,
    "Mutation.updateWebhookEndpoint": ACCOUNT_SCOPED,
    "Mutation.pingWebhookEndpoint": ACCOUNT_SCOPED,
    "Mutation.redeliverWebhook": ACCOUNT_SCOPED,
    "Mutation.deleteWebhookEndpoint": ACCOUNT_SCOPED,
}
# Root fields whose allowed call uses its resource up: each allowed call gets a new one,
# made by the victim's owner (the refused calls name the victim's own).
FRESH: dict[str, Callable[[GraphQLClient], Awaitable[dict[str, Any]]]] = {
    "Mutation.deleteWebhookEndpoint": lambda owner: new_webhook_endpoint(owner),
}
# Inputs for the matrix's allowed calls, on top of the walk's. createAccount fails its
# input check, so no role gains an account mid-matrix (tests/api/test_accounts.py
# covers creating one); the owner added by support is the one removed.
MATRIX_OVERRIDES: dict[str, dict[str, Any]] = {
    "createAccount": {"autoApproveLimit": -1},
    "courses": {"includeInactive": True},
    "removeAccountOwner": {"email": "mallory2@example.net"},
}
# Root fields that name no account: what the calls refer to.
RESOURCES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    **RESOURCE_SCOPED,
    "Query.viewer": lambda v: {},
    "Query.priceQuote": lambda v: {},
    "Query.myRedemptions": lambda v: {},
    "Query.courses": lambda v: {},
    "Query.node": lambda v: {"id": v["accountId"]},
    "Query.nodes": lambda v: {"ids": [v[key] for key in NODE_KEYS["Query.nodes"]]},
    "Mutation.createAccount": lambda v: {},
    "Mutation.redeemCredits": lambda v: {
        "code": v["code"],
        "courseId": v["courseId"],
        "idempotencyKey": "matrix",
    },
}


# Who may watch an account live (ledger.live): reached by subscriptions, which this walk
# over HTTP cannot run; tests/api/test_subscriptions.py runs them for owners, strangers and
# a removed owner.
SUBSCRIPTION_RULES = {"watched_account", "may_watch"}
PUBLIC = {
    name
    for name, function in inspect.getmembers(access, inspect.isfunction)
    if not name.startswith("_") and function.__module__ == access.__name__
}


@dataclass
class Call:
    name: str
    result: Any = None
    error: str | None = None  # the code of the LedgerError it raised


def _recorder(name: str, function: Callable[..., Any], calls: list[Call]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(function):

        async def record_async(*args: Any, **kwargs: Any) -> Any:
            call = Call(name)
            calls.append(call)
            try:
                call.result = await function(*args, **kwargs)
            except LedgerError as exc:
                call.error = exc.code.value
                raise
            return call.result

        return record_async

    def record(*args: Any, **kwargs: Any) -> Any:
        call = Call(name)
        calls.append(call)
        try:
            call.result = function(*args, **kwargs)
        except LedgerError as exc:
            call.error = exc.code.value
            raise
        return call.result

    return record


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """Every call to a public function of ledger.access, in order."""
    calls: list[Call] = []
    for name in PUBLIC:
        monkeypatch.setattr(access, name, _recorder(name, getattr(access, name), calls))
    return calls


def _decided(calls: list[Call], outcome: str) -> bool:
    """Whether ledger.access made the decision `outcome` says was made."""
    if outcome == UNAUTHENTICATED:
        return calls == []  # refused before any rule ran
    if outcome == OPEN:
        return all(c.error is None for c in calls)
    if outcome == OK:
        return bool(calls) and all(c.error is None for c in calls)
    left_out = outcome == NOT_FOUND and any(
        c.name == "redemptions_for_owner" and c.result == {} for c in calls
    )
    return left_out or any(c.error == outcome for c in calls)


def _decided_by_id(calls: list[Call], rules: list[str], outcome: tuple[str, ...]) -> bool:
    """Whether each object read by id was read by its type's rule, which let it through
    (OK) or refused it (NULL), in the order asked; no other rule refused anything."""
    reads = [c for c in calls if c.name in READ_RULES]
    others = [c for c in calls if c.name not in READ_RULES]
    return (
        [c.name for c in reads] == rules
        and all(
            c.error == (None if seen == OK else NOT_FOUND)
            for c, seen in zip(reads, outcome, strict=True)
        )
        and all(c.error is None for c in others)
    )


def _read_back(body: dict[str, Any], name: str, ids: list[str]) -> tuple[str, ...] | None:
    """What a read by id answered for each id: OK (the object with that id) or NULL;
    None if it answered an error or anything else."""
    if body.get("errors") or not isinstance(body.get("data"), dict):
        return None
    answer = body["data"][name]
    objects = answer if isinstance(answer, list) else [answer]
    if len(objects) != len(ids):
        return None
    seen = []
    for asked, found in zip(ids, objects, strict=True):
        if found is None:
            seen.append(NULL)
        elif found["id"] == asked:
            seen.append(OK)
        else:
            return None
    return tuple(seen)


def _answer(body: dict[str, Any], name: str) -> set[str]:
    """The error codes of a call: top-level ones, else the payload's."""
    codes = {e["extensions"]["code"] for e in body.get("errors") or []}
    payload = (body.get("data") or {}).get(name)
    if not codes and isinstance(payload, dict) and "errors" in payload:
        codes = {e["code"] for e in payload["errors"]}
    return codes


async def _world(callers: dict[str, GraphQLClient]) -> dict[str, Any]:
    """The victim's account with a lot, two redemptions (one approved), a quote and a
    withdrawn course; the stranger owns an account of their own."""
    ann, stranger, support, learner = (
        callers[role] for role in ("owner", "stranger", "support", "learner")
    )
    account = await create_account(ann, name="Victim Ltd", approvalMode="MANUAL")
    purchase = (await buy(ann, 500, "v1"))["purchase"]
    course = await upsert_course(support, "SEC-101", "Security basics", 120)
    withdrawn = await upsert_course(support, "OLD-001", "Withdrawn", 50, active=False)
    pending = await redeem(learner, account["redemptionCode"], course["id"], "r1")
    approved = await redeem(learner, account["redemptionCode"], course["id"], "r2")
    await ann.data(
        "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { totalCredits } }",
        {"ids": [approved["redemption"]["id"]]},
    )
    quote = await ann.data(
        "mutation { requestQuote(input: {credits: 900}) { quoteRequest { id } } }"
    )
    await create_account(stranger, name="Mallory's own")
    await buy(stranger, 100, "m1")
    hooks = await webhook_endpoints(ann)
    account_id = pk(account["id"])
    lot = await Lot.get(account_id=account_id)
    entry = await LedgerEntry.filter(account_id=account_id).order_by("id").first()
    event = await AuditEvent.filter(account_id=account_id).order_by("id").first()
    assert entry is not None and event is not None
    owner = await UserRow.get(email="ann@example.com")
    learner_row = await UserRow.get(email="lee@example.com")
    return {
        "accountId": account["id"],
        "code": account["redemptionCode"],
        "redemptionId": pending["redemption"]["id"],
        "approvedId": approved["redemption"]["id"],
        "courseId": course["id"],
        "courseSku": "SEC-101",
        "quoteId": quote["requestQuote"]["quoteRequest"]["id"],
        "lotId": gid("Lot", lot.id),
        "purchaseId": purchase["id"],
        "transactionId": gid("Transaction", entry.id),
        "auditEventId": gid("AuditEvent", event.id),
        "ownerUserId": gid("User", owner.id),
        "learnerUserId": gid("User", learner_row.id),
        "withdrawnCourseId": withdrawn["id"],
        **hooks,
    }


@pytest.fixture
def learner(client_factory: Callable[..., GraphQLClient]) -> GraphQLClient:
    return client_factory("lee@example.com", "Lee Learner")


@pytest.fixture
def callers(
    ann: GraphQLClient, stranger: GraphQLClient, learner: GraphQLClient, support: GraphQLClient
) -> dict[str, GraphQLClient]:
    return {
        "anonymous": GraphQLClient(None),
        "stranger": stranger,
        "learner": learner,
        "support": support,
        "owner": ann,
    }


def _schema_roots() -> list[GraphQLObjectType]:
    schema = build_schema(sdl())
    assert schema.query_type is not None and schema.mutation_type is not None
    return [schema.query_type, schema.mutation_type]


async def test_every_root_field_is_decided_by_the_access_module(
    callers: dict[str, GraphQLClient], decisions: list[Call], clock: Any
) -> None:
    victim = await _world(callers)
    roots = _schema_roots()
    fields = {f"{root.name}.{name}" for root in roots for name in root.fields}
    assert fields == set(ROOT_FIELDS), "give every root field a row in ROOT_FIELDS"

    wrong = []
    used: set[str] = set()
    for root in roots:
        for name, field in root.fields.items():
            key = f"{root.name}.{name}"
            account_arg = _takes_account(field) or ("id" if key == "Query.account" else "")
            overrides = {
                **OVERRIDES.get(name, {}),
                **MATRIX_OVERRIDES.get(name, {}),
                **RESOURCES.get(key, lambda v: {})(victim),
            }
            document, variables = operation(root, name, field, victim, overrides, account_arg)
            # Refusals first: an allowed call may change what a later one finds.
            for role in sorted(ROLES, key=lambda r: ROOT_FIELDS[key][r] in (OK, OPEN)):
                outcome = ROOT_FIELDS[key][role]
                if key in FRESH and outcome in (OK, OPEN):
                    fresh = {**overrides, **await FRESH[key](callers["owner"])}
                    document, variables = operation(root, name, field, victim, fresh, account_arg)
                decisions.clear()
                body = await callers[role].post(document, variables)
                codes = _answer(body, name)
                if isinstance(outcome, tuple):
                    ids = [victim[k] for k in NODE_KEYS[key]]
                    rules = [dict(READ_BY_ID)[k] for k in NODE_KEYS[key]]
                    if _read_back(body, name, ids) != outcome or not _decided_by_id(
                        decisions, rules, outcome
                    ):
                        wrong.append(f"{key} as {role}: expected {outcome}, got {body} {decisions}")
                    used.update(c.name for c in decisions)
                    continue
                if outcome in (OK, OPEN):
                    answered = not codes & {NOT_FOUND, FORBIDDEN, UNAUTHENTICATED} or (
                        root.name == "Mutation" and codes == {NOT_FOUND}
                    )
                    answered = answered and not (root.name == "Query" and body.get("errors"))
                else:
                    answered = codes == {outcome}
                if not (answered and _decided(decisions, outcome)):
                    wrong.append(f"{key} as {role}: expected {outcome}, got {codes} {decisions}")
                used.update(c.name for c in decisions)
    assert wrong == []
    # Every rule of the module is reached (may_see_draws is a field's: the test below;
    # the subscriptions' are walked over a WebSocket in test_subscriptions.py).
    assert used | {"may_see_draws", *SUBSCRIPTION_RULES} == PUBLIC


# Every type with an id, read on the victim's account: the query, and the ids the
# owner and support staff see there (the catalogue: everyone sees the active courses,
# support staff the withdrawn ones too). Strangers and learners get NOT_FOUND.
@dataclass
class Read:
    document: str
    rows: Callable[[int], Awaitable[set[str]]]
    catalogue: bool = False


async def _ids(type_name: str, model: Any, **where: Any) -> set[str]:
    """The API's ids of the rows of `model` that match `where`."""
    rows = await model.filter(**where).values_list("id", flat=True)
    return {gid(type_name, i) for i in rows}


async def _account_ids(account_id: int) -> set[str]:
    return {gid("Account", account_id)}


async def _owner_ids(account_id: int) -> set[str]:
    return {gid("User", row.user_id) for row in await Ownership.filter(account_id=account_id)}


TYPES: dict[str, Read] = {
    "Account": Read("account(id: $a) { id }", _account_ids),
    "User": Read("account(id: $a) { owners { id } }", _owner_ids),
    "Lot": Read(
        "lots(accountId: $a) { edges { node { id } } }",
        lambda a: _ids("Lot", Lot, account_id=a),
    ),
    "Purchase": Read(
        "transactions(accountId: $a) { edges { node { p: purchase { id } } } }",
        lambda a: _ids("Purchase", Purchase, account_id=a),
    ),
    "Transaction": Read(
        "transactions(accountId: $a) { edges { node { id } } }",
        lambda a: _ids("Transaction", LedgerEntry, account_id=a),
    ),
    "Redemption": Read(
        "redemptions(accountId: $a) { edges { node { id } } }",
        lambda a: _ids("Redemption", RedemptionRow, account_id=a),
    ),
    "QuoteRequest": Read(
        "quoteRequests(accountId: $a) { edges { node { id } } }",
        lambda a: _ids("QuoteRequest", QuoteRequest, account_id=a),
    ),
    "AuditEvent": Read(
        "auditLog(accountId: $a) { edges { node { id } } }",
        lambda a: _ids("AuditEvent", AuditEvent, account_id=a),
    ),
    "WebhookEndpoint": Read(
        "webhookEndpoints(accountId: $a) { edges { node { id } } }",
        lambda a: _ids("WebhookEndpoint", WebhookEndpoint, account_id=a),
    ),
    "WebhookDelivery": Read(
        "webhookEndpoints(accountId: $a) { edges { node { recentDeliveries { id } } } }",
        lambda a: _ids("WebhookDelivery", WebhookDelivery, endpoint__account_id=a),
    ),
    "Course": Read(
        "courses(includeInactive: true) { edges { node { id } } }",
        lambda a: _ids("Course", Course),
        catalogue=True,
    ),
}


def _found(data: Any) -> set[str]:
    """Every `id` in an answer, wherever it is nested."""
    if isinstance(data, dict):
        own = {str(data["id"])} if isinstance(data.get("id"), str) else set()
        return own.union(*(_found(v) for v in data.values()))
    if isinstance(data, list):
        return set().union(*(_found(v) for v in data))
    return set()


async def _expected(role: str, read: Read, account_id: int) -> set[str] | str:
    if role == "anonymous":
        return UNAUTHENTICATED
    if read.catalogue and role != "support":
        return await _ids("Course", Course, active=True)
    if role in ("owner", "support"):
        return await read.rows(account_id)
    return NOT_FOUND


async def test_every_type_with_an_id_is_seen_by_whom_the_access_module_allows(
    callers: dict[str, GraphQLClient], decisions: list[Call]
) -> None:
    victim = await _world(callers)
    schema = build_schema(sdl())
    with_id = {
        name
        for name, t in schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and "id" in t.fields and not name.startswith("__")
    }
    assert with_id == set(TYPES), "give every type with an id a row in TYPES"

    wrong = []
    for type_name, read in TYPES.items():
        for role in ROLES:
            expected = await _expected(role, read, pk(victim["accountId"]))
            decisions.clear()
            if "$a" in read.document:
                body = await callers[role].post(
                    f"query($a: ID) {{ {read.document} }}", {"a": victim["accountId"]}
                )
            else:
                body = await callers[role].post(f"{{ {read.document} }}")
            codes = {e["extensions"]["code"] for e in body.get("errors") or []}
            seen = _found(body.get("data"))
            if isinstance(expected, set):
                ok = not codes and seen == expected and _decided(decisions, OK)
            else:
                ok = codes == {expected} and not seen and _decided(decisions, expected)
            if not ok:
                wrong.append(f"{type_name} as {role}: expected {expected}, got {codes} {seen}")
    assert wrong == []


DRAWS = "query($a: ID) { redemptions(accountId: $a) { edges { node { id draws { credits } } } } }"
MY_DRAWS = "{ myRedemptions { edges { node { id draws { credits } } } } }"


async def test_draws_are_null_for_whom_may_not_see_them(
    callers: dict[str, GraphQLClient], decisions: list[Call]
) -> None:
    victim = await _world(callers)
    expected = {victim["approvedId"]: [{"credits": 120}], victim["redemptionId"]: []}
    for role in ("owner", "support"):
        decisions.clear()
        data = await callers[role].data(DRAWS, {"a": victim["accountId"]})
        draws = {e["node"]["id"]: e["node"]["draws"] for e in data["redemptions"]["edges"]}
        assert draws == expected, role
        assert [c.result for c in decisions if c.name == "may_see_draws"] == [True, True]

    decisions.clear()
    mine = (await callers["learner"].data(MY_DRAWS))["myRedemptions"]["edges"]
    assert {e["node"]["id"]: e["node"]["draws"] for e in mine} == dict.fromkeys(expected)
    assert [c.result for c in decisions if c.name == "may_see_draws"] == [False, False]
