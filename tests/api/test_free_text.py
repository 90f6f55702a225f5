"""Free text that cannot be stored is INVALID_INPUT, never INTERNAL (issue 10, items 12, 14).

A lone surrogate ("\\ud800") is valid JSON but cannot be encoded as UTF-8: the databases
refuse it. The request body must carry the JSON escape itself, as a client would send it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from models import Account, Ownership
from tests.helpers import (
    GraphQLClient,
    asgi_app,
    buy,
    create_account,
    pk,
    redeem,
    upsert_course,
)

LONE = "\ud800"


async def post_raw(client: GraphQLClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables})  # ASCII, with \ud800 escapes
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
    ) as http:
        response = await http.post(
            "/graphql",
            content=body.encode("ascii"),
            headers={"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"},
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


def answer(body: dict[str, Any]) -> tuple[str, list[str] | None]:
    """The code (and field) a client sees: a top-level error, or the payload's first error."""
    if body.get("errors"):
        extensions = body["errors"][0]["extensions"]
        return extensions["code"], extensions.get("field")
    payload = next(iter(body["data"].values()))
    errors = payload.get("errors") if isinstance(payload, dict) else None
    if not errors:
        return "OK", None
    return errors[0]["code"], errors[0]["field"]


@pytest.fixture
async def world(ann, support, client_factory) -> dict[str, Any]:
    """An account with a lot, a pending and an approved redemption, and an open quote."""
    account = await create_account(ann, name="Team", approvalMode="MANUAL")
    lot = (await buy(ann, 1000, "buy-1"))["purchase"]["lot"]
    course = await upsert_course(support, "JIRA-101", "Jira fundamentals", 100)
    lee = client_factory("lee@example.com", "Lee Learner")
    pending = []
    for key in ("r1", "r2"):
        redeemed = await redeem(lee, account["redemptionCode"], course["id"], key)
        pending.append(redeemed["redemption"]["id"])
    approve = "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { totalCredits } }"
    await ann.data(approve, {"ids": [pending[1]]})
    quote = await ann.data(
        "mutation { requestQuote(input: {credits: 500}) { quoteRequest { id } } }"
    )
    return {
        "ann": ann,
        "support": support,
        "lee": lee,
        "account": account["id"],
        "code": account["redemptionCode"],
        "course": course["id"],
        "lot": lot["id"],
        "pending": pending[0],
        "approved": pending[1],
        "quote": quote["requestQuote"]["quoteRequest"]["id"],
    }


ERRORS = "{ errors { code field } }"
# (who asks, the operation with $v for the text, other variables, the field named)
TEXT_INPUTS = {
    "account name (create)": (
        "lee",
        "mutation($v: String!) { createAccount(input: {name: $v}) " + ERRORS + " }",
        {},
        ["name"],
    ),
    "account name (update)": (
        "ann",
        "mutation($v: String!) { updateAccount(input: {name: $v}) " + ERRORS + " }",
        {},
        ["name"],
    ),
    "owner email (add)": (
        "ann",
        "mutation($v: String!) { addAccountOwner(input: {email: $v}) " + ERRORS + " }",
        {},
        ["email"],
    ),
    "owner email (remove)": (
        "ann",
        "mutation($v: String!) { removeAccountOwner(input: {email: $v}) " + ERRORS + " }",
        {},
        ["email"],
    ),
    "quote message": (
        "ann",
        "mutation($v: String!) { requestQuote(input: {credits: 100, message: $v}) " + ERRORS + " }",
        {},
        ["message"],
    ),
    "purchase idempotency key": (
        "ann",
        "mutation($v: String!) { purchaseCredits(input: {credits: 100, paymentToken: "
        '"tok_visa", idempotencyKey: $v}) ' + ERRORS + " }",
        {},
        ["idempotencyKey"],
    ),
    "redemption idempotency key": (
        "lee",
        "mutation($v: String!, $code: String!, $course: ID!) { redeemCredits(input: "
        "{code: $code, courseId: $course, idempotencyKey: $v}) " + ERRORS + " }",
        {"code": "code", "course": "course"},
        ["idempotencyKey"],
    ),
    "deny reason": (
        "ann",
        "mutation($v: String!, $id: ID!) { denyRedemptions(input: {ids: [$id], reason: $v}) "
        + ERRORS
        + " }",
        {"id": "pending"},
        ["reason"],
    ),
    "quote cancel reason": (
        "ann",
        "mutation($v: String!, $id: ID!) { cancelQuote(input: {id: $id, reason: $v}) "
        + ERRORS
        + " }",
        {"id": "quote"},
        ["reason"],
    ),
    "accounts search": (
        "support",
        "query($v: String!) { accounts(search: $v) { totalCount } }",
        {},
        ["search"],
    ),
    "course title": (
        "support",
        'mutation($v: String!) { upsertCourse(input: {sku: "NEW-1", title: $v, priceCredits: 5})'
        " " + ERRORS + " }",
        {},
        ["title"],
    ),
    "course sku": (
        "support",
        'mutation($v: String!) { upsertCourse(input: {sku: $v, title: "T", priceCredits: 5}) '
        + ERRORS
        + " }",
        {},
        ["sku"],
    ),
    "adjustment reason": (
        "support",
        "mutation($v: String!, $id: ID!) { adjustCredits(input: {accountId: $id, credits: 5, "
        "reason: $v}) " + ERRORS + " }",
        {"id": "account"},
        ["reason"],
    ),
    "extension reason": (
        "support",
        "mutation($v: String!, $id: ID!) { extendLot(input: {id: $id, "
        'expiresAt: "2027-06-01T00:00:00+00:00", reason: $v}) ' + ERRORS + " }",
        {"id": "lot"},
        ["reason"],
    ),
    "reversal reason": (
        "support",
        "mutation($v: String!, $id: ID!) { reverseRedemption(input: {id: $id, reason: $v}) "
        + ERRORS
        + " }",
        {"id": "approved"},
        ["reason"],
    ),
    "invoice number": (
        "support",
        "mutation($v: String!, $id: ID!) { fulfilQuote(input: {id: $id, invoiceNumber: $v}) "
        + ERRORS
        + " }",
        {"id": "quote"},
        ["invoiceNumber"],
    ),
}


@pytest.mark.parametrize("where", ["{}", "ab{}cd@example.com"])
@pytest.mark.parametrize("name", list(TEXT_INPUTS))
async def test_lone_surrogates_are_invalid_input_in_every_text_input(world, name, where):
    who, query, refs, field = TEXT_INPUTS[name]
    text = where.replace("{}", LONE)
    variables = {"v": text, **{key: world[ref] for key, ref in refs.items()}}
    body = await post_raw(world[who], query, variables)
    assert answer(body) == ("INVALID_INPUT", field), body
    assert (await Account.get(id=pk(world["account"]))).name == "Team"


INVISIBLE = {
    "zero-width space": "cfo\u200b@a.test",
    "zero-width joiner": "c\u200dfo@a.test",
    "right-to-left override": "cfo@\u202etset.a",
    "left-to-right isolate": "\u2066cfo@a.test",
    "byte order mark": "cfo@a.test\ufeff",
    "soft hyphen": "c\u00adfo@a.test",
    "no-break space": "cfo\u00a0@a.test",
    "line separator": "cfo@a.\u2028test",
    "ideographic space": "cfo@a\u3000.test",
}


@pytest.mark.parametrize("email", list(INVISIBLE.values()), ids=list(INVISIBLE))
async def test_owner_emails_with_invisible_characters_are_invalid_input(ann, email):
    await create_account(ann)
    add = "mutation($v: String!) { addAccountOwner(input: {email: $v}) " + ERRORS + " }"
    body = await post_raw(ann, add, {"v": email})
    assert answer(body) == ("INVALID_INPUT", ["email"])
    assert await Ownership.all().count() == 1


async def test_an_ordinary_owner_email_is_still_accepted(ann):
    await create_account(ann)
    add = "mutation($v: String!) { addAccountOwner(input: {email: $v}) " + ERRORS + " }"
    body = await post_raw(ann, add, {"v": "  Zoë.O'Brien+credits@Bücher.example "})
    assert answer(body) == ("OK", None)
    owners = await ann.data("{ account { owners { email } } }")
    assert owners["account"]["owners"][1] == {"email": "zoë.o'brien+credits@bücher.example"}
