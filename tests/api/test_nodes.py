"""`node(id:)` and `nodes(ids:)`: every Node type, read by each role.

Whoever may see an object gets it with the same fields as the query that lists it to
them; anyone else gets null, exactly like for a well-formed id of a row that does not
exist; anonymous callers get UNAUTHENTICATED; anything that is not a Node id of this API
is INVALID_INPUT. Who sees what follows ledger.access (`*_for` functions).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from models import AuditEvent, LedgerEntry
from models import User as UserRow
from tests.helpers import (
    GraphQLClient,
    buy,
    create_account,
    gid,
    pk,
    redeem,
    upsert_course,
)

ROLES = ("owner", "stranger", "learner", "support", "anonymous")
OWNERS = ("owner", "support")  # the account's owners, and support staff
SIGNED_IN = ("owner", "stranger", "learner", "support")
MISSING = 999999

# What each type answers: the same selection on the list and on `node`.
FIELDS = {
    "Account": "id name approvalMode autoApproveLimit createdAt redemptionCode "
    "owners { id email name } balance { available pending expiringWithin90Days nextExpiry }",
    "Lot": "id credits remaining purchasedAt expiresAt status",
    "Purchase": "id credits unitPriceCents discountPercent amountCents status createdAt "
    "lot { id credits remaining }",
    "Transaction": "id kind credits balanceAfter reason reference expiresAt createdAt "
    "lot { id } purchase { id } redemption { id } actor { id email }",
    "Redemption": "id status credits requestedAt decidedAt reason course { id sku } "
    "learner { id email } decidedBy { id } draws { credits lot { id } }",
    "Course": "id sku title priceCredits active",
    "QuoteRequest": "id credits unitPriceCents discountPercent amountCents message status "
    "invoiceNumber cancelReason createdAt account { id name } purchase { id }",
    "AuditEvent": "id action details reason createdAt actor { id email }",
    "User": "id email name",
}

# The queries that list each type to each role (F: the type's selection). Every object
# a role may read by id is among them, and none it may not.
_EDGES = "{ edges { node { F } } }"
LISTS: dict[str, dict[str, str]] = {
    "Account": dict.fromkeys(OWNERS, "account(id: $a) { F }"),
    "Lot": dict.fromkeys(OWNERS, "lots(accountId: $a) " + _EDGES),
    "Purchase": dict.fromkeys(
        OWNERS, "transactions(accountId: $a) { edges { node { purchase { F } } } }"
    ),
    "Transaction": dict.fromkeys(OWNERS, "transactions(accountId: $a) " + _EDGES),
    "Redemption": {
        **dict.fromkeys(OWNERS, "redemptions(accountId: $a) " + _EDGES),
        "learner": "myRedemptions " + _EDGES,
    },
    "Course": dict.fromkeys(SIGNED_IN, "courses(includeInactive: true) " + _EDGES),
    "QuoteRequest": dict.fromkeys(OWNERS, "quoteRequests(accountId: $a) " + _EDGES),
    "AuditEvent": dict.fromkeys(OWNERS, "auditLog(accountId: $a) " + _EDGES),
    "User": {
        "owner": "viewer { user { F } } account(id: $a) { owners { F } } "
        "redemptions(accountId: $a) { edges { node { learner { F } } } }",
        "support": "viewer { user { F } } accounts { edges { node { owners { F } } } } "
        "redemptions(accountId: $a) { edges { node { learner { F } } } }",
        "learner": "viewer { user { F } } myRedemptions { edges { node { learner { F } } } }",
        "stranger": "viewer { user { F } } account { owners { F } }",
    },
}


@dataclass(frozen=True)
class Object:
    name: str
    type_name: str
    seen_by: tuple[str, ...]


# The objects of the world below, and who may read them.
OBJECTS = (
    Object("account", "Account", OWNERS),
    Object("lot", "Lot", OWNERS),
    Object("purchase", "Purchase", OWNERS),
    Object("purchase entry", "Transaction", OWNERS),
    Object("redemption entry", "Transaction", OWNERS),
    Object("redemption", "Redemption", (*OWNERS, "learner")),
    Object("course", "Course", SIGNED_IN),
    Object("withdrawn course", "Course", ("support",)),
    Object("quote", "QuoteRequest", OWNERS),
    Object("audit event", "AuditEvent", OWNERS),
    Object("owner", "User", OWNERS),  # themselves, and support staff
    Object("learner", "User", (*OWNERS, "learner")),  # they asked the account for credits
    Object("stranger", "User", ("stranger", "support")),  # an owner of another account
)
TYPES = sorted({o.type_name for o in OBJECTS})


@pytest.fixture
def learner(client_factory: Any) -> GraphQLClient:
    return client_factory("lee@example.com", "Lee Learner")


@pytest.fixture
def callers(
    ann: GraphQLClient, stranger: GraphQLClient, learner: GraphQLClient, support: GraphQLClient
) -> dict[str, GraphQLClient]:
    return {
        "owner": ann,
        "stranger": stranger,
        "learner": learner,
        "support": support,
        "anonymous": GraphQLClient(None),
    }


async def _world(callers: dict[str, GraphQLClient]) -> dict[str, Any]:
    """Ann's account with a lot, an approved redemption by Lee, a quote; a catalogue
    course and a withdrawn one; Mallory owns another account. Answers the objects'
    global ids by name, and Ann's account id as `$a`."""
    ann, stranger, learner, support = (
        callers[role] for role in ("owner", "stranger", "learner", "support")
    )
    account = await create_account(ann, name="Victim Ltd")
    purchase = (await buy(ann, 500, "p1"))["purchase"]
    course = await upsert_course(support, "SEC-101", "Security basics", 120)
    withdrawn = await upsert_course(support, "OLD-001", "Withdrawn", 50, active=False)
    redemption = (await redeem(learner, account["redemptionCode"], course["id"], "r1"))[
        "redemption"
    ]
    assert redemption["status"] == "APPROVED"
    quote = await ann.data(
        'mutation { requestQuote(input: {credits: 900, message: "invoice please"}) '
        "{ quoteRequest { id } } }"
    )
    await create_account(stranger, name="Mallory's own")
    await buy(stranger, 100, "m1")

    account_id = pk(account["id"])
    entries = await LedgerEntry.filter(account_id=account_id).order_by("id")
    assert [e.kind.value for e in entries] == ["PURCHASE", "REDEMPTION"]
    event = await AuditEvent.get(account_id=account_id, action="quote.requested")
    users = {u.email: u.id for u in await UserRow.all()}
    return {
        "$a": account["id"],
        "account": account["id"],
        "lot": purchase["lot"]["id"],
        "purchase": purchase["id"],
        "purchase entry": gid("Transaction", entries[0].id),
        "redemption entry": gid("Transaction", entries[1].id),
        "redemption": redemption["id"],
        "course": course["id"],
        "withdrawn course": withdrawn["id"],
        "quote": quote["requestQuote"]["quoteRequest"]["id"],
        "audit event": gid("AuditEvent", event.id),
        "owner": gid("User", users["ann@example.com"]),
        "learner": gid("User", users["lee@example.com"]),
        "stranger": gid("User", users["mallory@example.net"]),
    }


def _collect(data: Any, type_name: str, into: dict[str, Any]) -> dict[str, Any]:
    """Every object of `type_name` in an answer (those selected with `__typename`), by id."""
    if isinstance(data, dict):
        if data.get("__typename") == type_name:
            into[data["id"]] = data
        for value in data.values():
            _collect(value, type_name, into)
    elif isinstance(data, list):
        for value in data:
            _collect(value, type_name, into)
    return into


async def _listed(client: GraphQLClient, role: str, type_name: str, a: str) -> dict[str, Any]:
    """The objects of `type_name` that the queries listing them show `role`, by id."""
    body = LISTS[type_name].get(role)
    if body is None:
        return {}
    body = body.replace("{ F }", f"{{ __typename {FIELDS[type_name]} }}")
    if "$a" in body:
        data = await client.data(f"query($a: ID) {{ {body} }}", {"a": a})
    else:
        data = await client.data(f"{{ {body} }}")
    return _collect(data, type_name, {})


def _on(type_name: str) -> str:
    return f"{{ __typename ... on {type_name} {{ {FIELDS[type_name]} }} }}"


def _node(type_name: str) -> str:
    return f"query($id: ID!) {{ node(id: $id) {_on(type_name)} }}"


def _nodes(type_name: str) -> str:
    return f"query($ids: [ID!]!) {{ nodes(ids: $ids) {_on(type_name)} }}"


@pytest.mark.parametrize("role", ROLES)
async def test_each_node_type_reads_as_its_list_shows_it(
    role: str, callers: dict[str, GraphQLClient], clock: Any
) -> None:
    world = await _world(callers)
    client = callers[role]
    wrong: list[str] = []
    for type_name in TYPES:
        objects = [o for o in OBJECTS if o.type_name == type_name]
        ids = [world[o.name] for o in objects]
        missing = gid(type_name, MISSING)
        if role == "anonymous":
            for field, document, variables in [
                ("node", _node(type_name), {"id": ids[0]}),
                ("nodes", _nodes(type_name), {"ids": ids}),
            ]:
                body = await client.post(document, variables)
                codes = [e["extensions"]["code"] for e in body.get("errors") or []]
                if codes != ["UNAUTHENTICATED"] or (body["data"] or {}).get(field) is not None:
                    wrong.append(f"{type_name}: anonymous got {body}")
            continue

        listed = await _listed(client, role, type_name, world["$a"])
        nothing = await client.post(_node(type_name), {"id": missing})
        assert nothing == {"data": {"node": None}}, nothing
        expected: list[Any] = []
        for obj, object_id in zip(objects, ids, strict=True):
            may_see = role in obj.seen_by
            if may_see != (object_id in listed):
                wrong.append(f"{obj.name}: may {role} see it ({may_see}) and the lists disagree")
            want = listed[object_id] if may_see and object_id in listed else None
            expected.append(want)
            body = await client.post(_node(type_name), {"id": object_id})
            if may_see and body != {"data": {"node": want}}:
                wrong.append(f"{obj.name}: {role} got {body}, listed {want}")
            if not may_see and body != nothing:
                wrong.append(f"{obj.name}: {role} got {body}, not what a missing row answers")
        # All of them at once, a missing row and one asked twice: in the order asked.
        body = await client.post(_nodes(type_name), {"ids": [*ids, missing, ids[0]]})
        if body != {"data": {"nodes": [*expected, None, expected[0]]}}:
            wrong.append(f"{type_name}: nodes as {role} got {body}, expected {expected}")
    assert wrong == []


async def test_nodes_of_every_type_at_once(callers: dict[str, GraphQLClient], clock: Any) -> None:
    """One `nodes` call mixes every type: each answered in place, null where refused."""
    world = await _world(callers)
    ids = [world[o.name] for o in OBJECTS]
    for role in SIGNED_IN:
        data = await callers[role].data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }", {"ids": ids}
        )
        expected = [
            {"__typename": o.type_name, "id": world[o.name]} if role in o.seen_by else None
            for o in OBJECTS
        ]
        assert data == {"nodes": expected}, role
    assert await callers["owner"].data("{ nodes(ids: []) { id } }") == {"nodes": []}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


NOT_NODE_IDS = [
    "1",  # a raw row id
    "42",
    "",
    "not an id",
    _b64("Balance:1"),  # a type without ids
    _b64("Viewer:1"),
    _b64("PageInfo:1"),
    _b64("k:1"),  # a page cursor
    _b64("Lot:0"),
    _b64("Lot:-1"),
    _b64("Lot:abc"),
    _b64("Lot:"),
    _b64(f"Lot:{2**31}"),
    _b64("lot:1"),
    # Another spelling of an existing object's id: one object, one id.
    _b64("Lot:01"),
    _b64("Lot: 1"),
    _b64("Lot:+1"),
    _b64("Lot:1") + "==",
]


@pytest.mark.parametrize("bad", NOT_NODE_IDS)
async def test_what_is_not_a_node_id_is_invalid_input(
    bad: str, callers: dict[str, GraphQLClient]
) -> None:
    world = await _world(callers)
    ann = callers["owner"]
    body = await ann.post("query($id: ID!) { node(id: $id) { id } }", {"id": bad})
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
        ("INVALID_INPUT", ["id"])
    ]
    assert body["data"] == {"node": None}
    body = await ann.post(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [world["lot"], bad]}
    )
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
        ("INVALID_INPUT", ["ids"])
    ]
    # Signed out, the answer is UNAUTHENTICATED whatever the id.
    anonymous = callers["anonymous"]
    code = await anonymous.error_code("query($id: ID!) { node(id: $id) { id } }", {"id": bad})
    assert code == "UNAUTHENTICATED"


async def test_an_id_of_another_type_is_invalid_input_where_one_type_is_expected(
    callers: dict[str, GraphQLClient],
) -> None:
    world = await _world(callers)
    ann = callers["owner"]
    lot, account = world["lot"], world["account"]
    assert await ann.error_code("query($id: ID) { account(id: $id) { id } }", {"id": lot}) == (
        "INVALID_INPUT"
    )
    raw = str(pk(account))
    assert await ann.error_code("query($id: ID) { account(id: $id) { id } }", {"id": raw}) == (
        "INVALID_INPUT"
    )
    for wrong in (lot, world["owner"], raw):
        code = await ann.error_code(
            "query($a: ID) { lots(accountId: $a) { totalCount } }", {"a": wrong}
        )
        assert code == "INVALID_INPUT", wrong
    # The same account by its own id is fine.
    assert await ann.data("query($id: ID) { account(id: $id) { id } }", {"id": account}) == {
        "account": {"id": account}
    }


async def test_at_most_a_hundred_ids_at_once(callers: dict[str, GraphQLClient]) -> None:
    world = await _world(callers)
    ann = callers["owner"]
    document = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    data = await ann.data(document, {"ids": [world["lot"]] * 100})
    assert data == {"nodes": [{"id": world["lot"]}] * 100}
    assert await ann.error_code(document, {"ids": [world["lot"]] * 101}) == "INVALID_INPUT"


async def test_the_people_an_object_shows_can_be_read_by_id(
    callers: dict[str, GraphQLClient], clock: Any
) -> None:
    """`node` reads the users that nested fields show: who decided a learner's request,
    who (support staff) acted on an owner's ledger."""
    owner, learner, support = callers["owner"], callers["learner"], callers["support"]
    account = await create_account(owner, name="Team", approvalMode="MANUAL")
    await buy(owner, 500, "p1")
    course = await upsert_course(support, "SEC-101", "Security basics", 120)
    asked = await redeem(learner, account["redemptionCode"], course["id"], "r1")
    await owner.data(
        "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { totalCredits } }",
        {"ids": [asked["redemption"]["id"]]},
    )
    await support.data(
        "mutation($a: ID!) { adjustCredits(input: {accountId: $a, credits: 5, "
        'reason: "goodwill"}) { errors { code } } }',
        {"a": account["id"]},
    )
    mine = await learner.data("{ myRedemptions { edges { node { decidedBy { id } } } } }")
    (decider,) = [e["node"]["decidedBy"]["id"] for e in mine["myRedemptions"]["edges"]]
    ledger = await owner.data("{ transactions { edges { node { actor { id } } } } }")
    actors = {e["node"]["actor"]["id"] for e in ledger["transactions"]["edges"]}
    assert len(actors) == 2  # the owner, and support staff
    for reader, person in [(learner, decider), *((owner, actor) for actor in actors)]:
        read = await reader.data("query($id: ID!) { node(id: $id) { id } }", {"id": person})
        assert read["node"] == {"id": person}


async def test_a_request_reads_each_object_once_and_a_hundred_at_most(
    callers: dict[str, GraphQLClient],
) -> None:
    owner = callers["owner"]
    fifty = [gid("Lot", 900_000 + i) for i in range(50)]
    aliases = " ".join(f"a{i}: nodes(ids: $ids) {{ id }}" for i in range(25))
    body = await owner.post(f"query($ids: [ID!]!) {{ {aliases} }}", {"ids": fifty})
    assert "errors" not in body  # the same fifty ids, asked 25 times, are read once
    assert body["data"]["a24"] == [None] * 50
    others = [gid("Lot", 800_000 + i) for i in range(60)]
    body = await owner.post(
        "query($a: [ID!]!, $b: [ID!]!) { a: nodes(ids: $a) { id } b: nodes(ids: $b) { id } }",
        {"a": fifty, "b": others},
    )
    # `nodes` is non-null ([Node]!, as Relay has it): its refusal answers the whole query.
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["path"] == ["b"] and error["extensions"]["code"] == "INVALID_INPUT"
