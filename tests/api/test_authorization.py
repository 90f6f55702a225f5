"""A signed-in stranger can read or change nothing of another account.

The walk reads the committed `schema/schema.graphql`: every root field that takes an
account (an `accountId` argument or input field, or `account(id:)`) is called with the
victim's account, every field that reads objects by their global ids (`node`, `nodes`)
is asked for each of the victim's objects, and every root field must be classified
here, so a new field that is not walked fails this test until someone decides what it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    build_schema,
)

from cli import SCHEMA_FILE
from graph.ids import split_global_id
from models import (
    Account,
    AuditEvent,
    Course,
    LedgerEntry,
    Lot,
    Ownership,
    Purchase,
    QuoteRequest,
    Redemption,
    WebhookDelivery,
    WebhookEndpoint,
)
from models import User as UserRow
from tests.helpers import buy, create_account, gid, pk, redeem, upsert_course


async def new_webhook_endpoint(owner: Any) -> dict[str, str]:
    """A new endpoint of the owner's account, as the `id` a mutation takes."""
    data = await owner.data(
        'mutation { createWebhookEndpoint(input: {url: "http://127.0.0.1:9/hook",'
        " events: [PURCHASE_PAID]}) { webhookEndpoint { id } } }"
    )
    return {"id": data["createWebhookEndpoint"]["webhookEndpoint"]["id"]}


async def webhook_endpoints(owner: Any) -> dict[str, str]:
    """Two endpoints of the owner's account (one to delete), and a delivery (a ping)."""
    ids = {
        key: (await new_webhook_endpoint(owner))["id"]
        for key in ("webhookEndpointId", "spareWebhookEndpointId")
    }
    ping = await owner.data(
        "mutation($id: ID!) { pingWebhookEndpoint(input: {id: $id}) { webhookDelivery { id } } }",
        {"id": ids["webhookEndpointId"]},
    )
    return {**ids, "webhookDeliveryId": ping["pingWebhookEndpoint"]["webhookDelivery"]["id"]}


# Root fields that act on no account, or only on the caller's own.
NOT_ACCOUNT_SCOPED = {
    "Query.viewer": "the caller's own user",
    "Query.priceQuote": "pure pricing",
    "Query.myRedemptions": "the caller's own requests",
    "Query.courses": "the catalogue every learner sees",
    "Mutation.createAccount": "creates the caller's own account",
    "Mutation.redeemCredits": "the code is the credential (tests/api/test_redemptions.py)",
}
# Root fields that name another account's resources rather than the account: the walk
# passes the victim's resources. Support-only fields answer FORBIDDEN.
RESOURCE_SCOPED: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "Mutation.approveRedemptions": lambda v: {"ids": [v["redemptionId"]]},
    "Mutation.denyRedemptions": lambda v: {"ids": [v["redemptionId"]], "reason": "no"},
    "Mutation.cancelRedemption": lambda v: {"id": v["redemptionId"]},
    "Mutation.upsertCourse": lambda v: {"sku": v["courseSku"], "title": "Pwned", "priceCredits": 1},
    "Mutation.deactivateCourse": lambda v: {"id": v["courseId"]},
    "Mutation.cancelQuote": lambda v: {"id": v["quoteId"], "reason": "no"},
    "Mutation.fulfilQuote": lambda v: {"id": v["quoteId"], "invoiceNumber": "INV-1"},
    "Mutation.extendLot": lambda v: {
        "id": v["lotId"],
        "expiresAt": "2030-01-01T00:00:00+00:00",
        "reason": "x",
    },
    "Mutation.reverseRedemption": lambda v: {"id": v["approvedId"], "reason": "x"},
    "Query.accounts": lambda v: {"search": "Victim"},
    "Query.webhookDeliveries": lambda v: {"endpointId": v["webhookEndpointId"]},
    "Mutation.updateWebhookEndpoint": lambda v: {"id": v["webhookEndpointId"]},
    "Mutation.deleteWebhookEndpoint": lambda v: {"id": v["spareWebhookEndpointId"]},
    "Mutation.pingWebhookEndpoint": lambda v: {"id": v["webhookEndpointId"]},
    "Mutation.redeliverWebhook": lambda v: {"deliveryId": v["webhookDeliveryId"]},
}
DENIED = {"NOT_FOUND", "FORBIDDEN"}
# Root fields that read any object by its global id. An object the caller may not see
# answers null, exactly like a row that does not exist: the walk asks for each of the
# victim's objects and expects what a well-formed id of a missing row answers.
BY_ID = {"Query.node": "id", "Query.nodes": "ids"}


def _unwrap(t: Any) -> Any:
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


def _value(name: str, t: Any, victim: dict[str, Any], overrides: dict[str, Any]) -> Any:
    if name in overrides:
        return overrides[name]
    if name in ("accountId", "id") and victim.get("_account_arg") == name:
        return victim["accountId"]
    if name == "accountId":
        return victim["accountId"]
    is_list = isinstance(t.of_type if isinstance(t, GraphQLNonNull) else t, GraphQLList)
    base = _unwrap(t)
    if isinstance(base, GraphQLInputObjectType):
        return {
            field_name: _value(field_name, field.type, victim, overrides)
            for field_name, field in base.fields.items()
            if isinstance(field.type, GraphQLNonNull)
            or field_name == "accountId"
            or field_name in overrides
        }
    if isinstance(base, GraphQLEnumType):
        scalar: Any = next(iter(base.values))
    elif isinstance(base, GraphQLScalarType):
        scalar = {
            "Int": 1,
            "String": "x",
            "ID": "1",
            "Boolean": False,
            "DateTime": "2030-01-01T00:00:00+00:00",
            "Date": "2030-01-01",
        }[base.name]
    else:
        raise AssertionError(f"cannot make a value for {name}: {base}")
    return [scalar] if is_list else scalar


def _selection(field: GraphQLField) -> str:
    base = _unwrap(field.type)
    if isinstance(base, GraphQLObjectType) and "errors" in base.fields:
        return "{ __typename errors { code } }"
    if isinstance(base, GraphQLObjectType):
        return "{ __typename }"
    if isinstance(base, GraphQLInterfaceType):
        return "{ __typename id }"
    return ""


def _takes_account(field: GraphQLField) -> str | None:
    for arg_name, arg in field.args.items():
        if arg_name == "accountId":
            return "accountId"
        base = _unwrap(arg.type)
        if isinstance(base, GraphQLInputObjectType) and "accountId" in base.fields:
            return "accountId"
    return None


# Inputs that make an allowed call valid (the walk expects refusals, the matrix in
# tests/api/test_access_matrix.py also allowed calls).
OVERRIDES: dict[str, dict[str, Any]] = {
    "removeAccountOwner": {"email": "ann@example.com"},
    "addAccountOwner": {"email": "mallory2@example.net"},
    "purchaseCredits": {"paymentToken": "tok_visa", "credits": 100},
    "adjustCredits": {"credits": 100, "reason": "x"},
    "requestQuote": {"credits": 100},
    "createWebhookEndpoint": {"url": "http://127.0.0.1:9/hook", "events": ["PURCHASE_PAID"]},
}


def operation(
    root: GraphQLObjectType,
    name: str,
    field: GraphQLField,
    victim: dict[str, Any],
    overrides: dict[str, Any],
    account_arg: str,
) -> tuple[str, dict[str, Any]]:
    """A document calling root field `name` on the victim's resources, and its variables."""
    victim["_account_arg"] = account_arg
    args = {
        arg_name: _value(arg_name, arg.type, victim, overrides)
        for arg_name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) or arg_name in ("accountId", "id", "input")
    }
    rendered = ", ".join(f"{k}: ${k}" for k in args)
    declared = ", ".join(f"${k}: {field.args[k].type}" for k in args)
    kind = "mutation" if root.name == "Mutation" else "query"
    if not args:
        return f"{kind} {{ {name} {_selection(field)} }}", args
    return f"{kind}({declared}) {{ {name}({rendered}) {_selection(field)} }}", args


async def _snapshot() -> list[Any]:
    return [
        await Account.all()
        .order_by("id")
        .values_list("name", "approval_mode", "auto_approve_limit", "code_hash"),
        await Ownership.all().order_by("id").values_list("account_id", "user_id"),
        await Lot.all().order_by("id").values_list("remaining", "expires_at"),
        await LedgerEntry.all().count(),
        await Purchase.all().count(),
        await AuditEvent.all().count(),
        await Redemption.all().order_by("id").values_list("status", "decided_at"),
        await Course.all().order_by("id").values_list("sku", "title", "price_credits", "active"),
        await QuoteRequest.all().order_by("id").values_list("status", "account_id"),
    ]


async def _victims_objects(account_id: int, learner_email: str) -> list[str]:
    """The global id of every object of the victim's account, its owners and its learner
    (the catalogue's courses are everyone's)."""
    rows: list[tuple[str, Any]] = [
        ("Lot", Lot),
        ("Purchase", Purchase),
        ("Transaction", LedgerEntry),
        ("Redemption", Redemption),
        ("QuoteRequest", QuoteRequest),
        ("AuditEvent", AuditEvent),
        ("WebhookEndpoint", WebhookEndpoint),
    ]
    ids = [gid("Account", account_id)]
    for type_name, model in rows:
        found = (
            await model.filter(account_id=account_id).order_by("id").values_list("id", flat=True)
        )
        assert found, type_name
        ids += [gid(type_name, row_id) for row_id in found]
    deliveries = WebhookDelivery.filter(endpoint__account_id=account_id).order_by("id")
    ids += [gid("WebhookDelivery", row.id) for row in await deliveries]
    owners = [row.user_id for row in await Ownership.filter(account_id=account_id)]
    learner = await UserRow.get(email=learner_email)
    return ids + [gid("User", user_id) for user_id in [*owners, learner.id]]


async def test_a_stranger_can_read_or_change_nothing_of_another_account(
    ann, stranger, support, client_factory
):
    account = await create_account(ann, name="Victim Ltd", approvalMode="MANUAL")
    await buy(ann, 500, "v1")
    course = await upsert_course(support, "SEC-101", "Security basics", 120)
    learner = client_factory("lee@example.com", "Lee Learner")
    pending = await redeem(learner, account["redemptionCode"], course["id"], "r1")
    approved = await redeem(learner, account["redemptionCode"], course["id"], "r2")
    await ann.data(
        "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { totalCredits } }",
        {"ids": [approved["redemption"]["id"]]},
    )
    quote = await ann.data(
        "mutation { requestQuote(input: {credits: 900}) { quoteRequest { id } } }"
    )
    lots = await ann.data("{ lots { edges { node { id } } } }")
    await create_account(stranger, name="Mallory's own")  # a real owner elsewhere
    hooks = await webhook_endpoints(ann)
    victim = {
        **hooks,
        "accountId": account["id"],
        "redemptionId": pending["redemption"]["id"],
        "approvedId": approved["redemption"]["id"],
        "courseId": course["id"],
        "courseSku": "SEC-101",
        "quoteId": quote["requestQuote"]["quoteRequest"]["id"],
        "lotId": lots["lots"]["edges"][0]["node"]["id"],
    }
    objects = await _victims_objects(pk(account["id"]), "lee@example.com")
    before = await _snapshot()

    schema = build_schema(SCHEMA_FILE.read_text())
    walked = []
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            key = f"{root.name}.{name}"
            if key in NOT_ACCOUNT_SCOPED:
                continue
            if key in BY_ID:
                await _read_by_id(stranger, root, name, field, victim, BY_ID[key], objects)
                walked.append(key)
                continue
            account_arg = _takes_account(field) or ("id" if key == "Query.account" else None)
            resources = RESOURCE_SCOPED[key](victim) if key in RESOURCE_SCOPED else {}
            assert account_arg or resources, f"{key}: classify it for the authorization walk"
            document, args = operation(
                root,
                name,
                field,
                victim,
                {**OVERRIDES.get(name, {}), **resources},
                account_arg or "",
            )
            body = await stranger.post(document, args)
            if root is schema.query_type:
                codes = {e["extensions"]["code"] for e in body.get("errors") or []}
                assert codes and codes <= DENIED, f"{key} answered {body}"
            else:
                payload = body["data"][name]
                codes = {e["code"] for e in payload["errors"]}
                assert codes and codes <= DENIED, f"{key} answered {payload}"
            walked.append(key)

    assert await _snapshot() == before
    assert "Query.balance" in walked and "Mutation.purchaseCredits" in walked
    assert "Mutation.approveRedemptions" in walked and "Query.redemptions" in walked
    assert "Query.node" in walked and "Query.nodes" in walked


async def _read_by_id(
    stranger: Any,
    root: GraphQLObjectType,
    name: str,
    field: GraphQLField,
    victim: dict[str, Any],
    arg: str,
    objects: list[str],
) -> None:
    """The stranger reads each of the victim's objects by id (`node`) or all at once
    (`nodes`): each answers null and no error, as a well-formed id of a missing row does."""

    async def ask(ids: list[str]) -> dict[str, Any]:
        value: Any = ids if arg == "ids" else ids[0]
        document, args = operation(root, name, field, victim, {arg: value}, "")
        return await stranger.post(document, args)

    missing = [gid(_type_of(i), 999999) for i in objects]
    if arg == "ids":
        assert await ask(objects) == await ask(missing) == {"data": {name: [None] * len(objects)}}
        return
    for object_id, missing_id in zip(objects, missing, strict=True):
        answer = await ask([object_id])
        assert answer == await ask([missing_id]) == {"data": {name: None}}, object_id


def _type_of(global_id: str) -> str:
    parts = split_global_id(global_id)
    assert parts is not None, global_id
    return parts[0]


async def test_support_staff_may_read_any_account(ann, support):
    account = await create_account(ann, name="Customer")
    data = await support.data(
        "query($id: ID) { account(id: $id) { name } balance(accountId: $id) { available } }",
        {"id": account["id"]},
    )
    assert data == {"account": {"name": "Customer"}, "balance": {"available": 0}}
