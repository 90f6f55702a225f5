"""Quotes and invoices, support tools and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models import EntryKind, LedgerEntry, Lot, OutboxMessage, Purchase
from tests.helpers import BALANCE, buy, create_account, pk, redeem, upsert_course
from tests.invariants import assert_ledger_invariants

QUOTE = """
mutation($input: RequestQuoteInput!) {
  requestQuote(input: $input) {
    quoteRequest { id credits amountCents discountPercent message status }
    errors { code field }
  }
}"""
FULFIL = """
mutation($id: ID!, $invoice: String!) {
  fulfilQuote(input: {id: $id, invoiceNumber: $invoice}) {
    quoteRequest { status invoiceNumber purchase { amountCents status lot { credits } } }
    errors { code field }
  }
}"""
CANCEL_QUOTE = """
mutation($id: ID!, $reason: String!) {
  cancelQuote(input: {id: $id, reason: $reason}) {
    quoteRequest { status cancelReason } errors { code }
  }
}"""
QUOTES = """
query($status: QuoteStatus, $accountId: ID) {
  quoteRequests(status: $status, accountId: $accountId) {
    totalCount edges { node { id credits account { id } } }
  }
}"""
EXTEND = """
mutation($id: ID!, $expiresAt: DateTime!, $reason: String!) {
  extendLot(input: {id: $id, expiresAt: $expiresAt, reason: $reason}) {
    lot { expiresAt status } errors { code field }
  }
}"""
REVERSE = """
mutation($id: ID!, $reason: String!) {
  reverseRedemption(input: {id: $id, reason: $reason}) {
    redemption { status reason } errors { code }
  }
}"""
ADJUST = """
mutation($accountId: ID!, $credits: Int!, $reason: String!) {
  adjustCredits(input: {accountId: $accountId, credits: $credits, reason: $reason}) {
    account { balance { available } } errors { code field }
  }
}"""
AUDIT = """
query { auditLog { totalCount edges { node { action reason actor { email } details } } } }"""
APPROVE = """
mutation($ids: [ID!]!) {
  approveRedemptions(input: {ids: $ids}) { totalCredits errors { code } }
}"""


async def test_quote_priced_like_price_quote_and_fulfilled_once(ann, support):
    account = await create_account(ann)
    asked = await ann.mutate(
        "requestQuote",
        QUOTE,
        {"input": {"credits": 25_000, "message": "PO 4471, invoice to finance@example.com"}},
    )
    quote = asked["quoteRequest"]
    assert (quote["amountCents"], quote["discountPercent"], quote["status"]) == (
        2_000_000,
        20,
        "OPEN",
    )
    assert await OutboxMessage.filter(kind="quote_requested").count() == 1
    assert (await ann.data(BALANCE))["balance"]["available"] == 0

    done = await support.mutate("fulfilQuote", FULFIL, {"id": quote["id"], "invoice": "INV-0042"})
    assert done["quoteRequest"] == {
        "status": "FULFILLED",
        "invoiceNumber": "INV-0042",
        "purchase": {"amountCents": 2_000_000, "status": "PAID", "lot": {"credits": 25_000}},
    }
    again = await support.mutate("fulfilQuote", FULFIL, {"id": quote["id"], "invoice": "INV-0042"})
    assert again["errors"] == [{"code": "NOT_PENDING", "field": ["id"]}]
    assert await Purchase.all().count() == 1
    assert (await ann.data(BALANCE))["balance"]["available"] == 25_000
    assert await OutboxMessage.filter(kind="purchase_paid").count() == 1
    support_view = await support.data(QUOTES, {"status": "FULFILLED"})
    assert support_view["quoteRequests"]["edges"][0]["node"]["account"]["id"] == account["id"]
    await assert_ledger_invariants()


async def test_owners_cannot_fulfil_and_may_cancel_their_own(ann, bob):
    await create_account(ann)
    await create_account(bob)
    quote = (await ann.mutate("requestQuote", QUOTE, {"input": {"credits": 500}}))["quoteRequest"]
    refused = await ann.mutate("fulfilQuote", FULFIL, {"id": quote["id"], "invoice": "X"})
    assert refused["errors"] == [{"code": "FORBIDDEN", "field": None}]
    foreign = await bob.mutate("cancelQuote", CANCEL_QUOTE, {"id": quote["id"], "reason": "no"})
    assert foreign["errors"] == [{"code": "NOT_FOUND"}]
    cancelled = await ann.mutate(
        "cancelQuote", CANCEL_QUOTE, {"id": quote["id"], "reason": "Budget cut"}
    )
    assert cancelled["quoteRequest"] == {"status": "CANCELLED", "cancelReason": "Budget cut"}
    assert (await ann.data(QUOTES))["quoteRequests"]["totalCount"] == 1
    assert (await bob.data(QUOTES))["quoteRequests"]["totalCount"] == 0
    promo = await ann.mutate(
        "requestQuote", QUOTE, {"input": {"credits": 500, "promoCode": "twentyoffTC"}}
    )
    assert promo["errors"][0]["code"] == "INVALID_PROMO_CODE"


async def test_extend_lot_records_an_extension_and_tells_owners(ann, support, clock):
    await create_account(ann)
    lot_id = (await buy(ann, 300, "p"))["purchase"]["lot"]["id"]
    later = "2027-09-01T09:00:00+00:00"
    no_reason = await support.mutate(
        "extendLot", EXTEND, {"id": lot_id, "expiresAt": later, "reason": " "}
    )
    assert no_reason["errors"] == [{"code": "INVALID_INPUT", "field": ["reason"]}]
    earlier = await support.mutate(
        "extendLot",
        EXTEND,
        {"id": lot_id, "expiresAt": "2026-12-01T00:00:00+00:00", "reason": "x"},
    )
    assert earlier["errors"] == [{"code": "INVALID_INPUT", "field": ["expiresAt"]}]
    done = await support.mutate(
        "extendLot",
        EXTEND,
        {"id": lot_id, "expiresAt": later, "reason": "Ticket 991: training delayed"},
    )
    assert done["lot"] == {"expiresAt": later, "status": "ACTIVE"}
    entry = await LedgerEntry.get(kind=EntryKind.EXTENSION)
    assert (entry.credits, entry.reason) == (0, "Ticket 991: training delayed")
    assert entry.expires_at == datetime(2027, 9, 1, 9, tzinfo=UTC)
    assert await OutboxMessage.filter(kind="lot_extended").count() == 1
    owner_try = await ann.mutate(
        "extendLot", EXTEND, {"id": lot_id, "expiresAt": later, "reason": "x"}
    )
    assert owner_try["errors"][0]["code"] == "FORBIDDEN"
    clock.set(datetime(2027, 3, 2, tzinfo=UTC))  # after the original expiry, before the new one
    assert (await ann.data(BALANCE))["balance"]["available"] == 300
    await assert_ledger_invariants()


async def test_reversal_returns_credits_but_never_revives_expired_ones(
    ann, support, client_factory, clock
):
    account = await create_account(ann, approvalMode="MANUAL")
    await buy(ann, 100, "old")  # expires 2027-03-01
    clock.advance(days=60)
    await buy(ann, 500, "new")  # expires 2027-04-30
    course = await upsert_course(support, "C-300", "Course", 300)
    learner = client_factory("lee@example.com", "Lee")
    rid = (await redeem(learner, account["redemptionCode"], course["id"], "r"))["redemption"]["id"]
    await ann.mutate("approveRedemptions", APPROVE, {"ids": [rid]})  # 100 from old, 200 from new
    clock.set(datetime(2027, 3, 15, tzinfo=UTC))  # the old lot has expired since
    reversed_ = await support.mutate(
        "reverseRedemption", REVERSE, {"id": rid, "reason": "Course cancelled"}
    )
    assert reversed_["redemption"] == {"status": "REVERSED", "reason": "Course cancelled"}
    assert (await ann.data(BALANCE))["balance"]["available"] == 500
    kinds = [
        (e.kind.value, e.credits)
        for e in await LedgerEntry.filter(redemption_id=pk(rid)).order_by("id")
    ]
    assert kinds == [
        ("REDEMPTION", -100),
        ("REDEMPTION", -200),
        ("REVERSAL", 100),
        ("EXPIRY", -100),
        ("REVERSAL", 200),
    ]
    assert (await Lot.get(credits=100)).remaining == 0
    again = await support.mutate("reverseRedemption", REVERSE, {"id": rid, "reason": "again"})
    assert again["errors"] == [{"code": "NOT_PENDING"}]
    assert await OutboxMessage.filter(kind="redemption_reversed").count() == 1
    await assert_ledger_invariants()


async def test_adjustments_add_a_lot_or_take_in_draw_order(ann, support):
    account = await create_account(ann)
    await buy(ann, 100, "p")
    added = await support.mutate(
        "adjustCredits",
        ADJUST,
        {"accountId": account["id"], "credits": 250, "reason": "Goodwill for outage"},
    )
    assert added["account"]["balance"]["available"] == 350
    assert await Lot.all().count() == 2
    taken = await support.mutate(
        "adjustCredits",
        ADJUST,
        {"accountId": account["id"], "credits": -300, "reason": "Duplicate invoice"},
    )
    assert taken["account"]["balance"]["available"] == 50
    too_much = await support.mutate(
        "adjustCredits", ADJUST, {"accountId": account["id"], "credits": -51, "reason": "x"}
    )
    assert too_much["errors"] == [{"code": "INSUFFICIENT_CREDITS", "field": None}]
    zero = await support.mutate(
        "adjustCredits", ADJUST, {"accountId": account["id"], "credits": 0, "reason": "x"}
    )
    assert zero["errors"] == [{"code": "INVALID_INPUT", "field": ["credits"]}]
    owner = await ann.mutate(
        "adjustCredits", ADJUST, {"accountId": account["id"], "credits": 5, "reason": "x"}
    )
    assert owner["errors"][0]["code"] == "FORBIDDEN"
    await assert_ledger_invariants()


async def test_audit_log_records_who_did_what_and_why(ann, support):
    account = await create_account(ann, name="Team")
    await ann.mutate(
        "updateAccount",
        "mutation { updateAccount(input: {approvalMode: MANUAL}) { errors { code } } }",
    )
    await ann.mutate(
        "addAccountOwner",
        'mutation { addAccountOwner(input: {email: "bob@example.com"}) { errors { code } } }',
    )
    await ann.mutate(
        "rotateRedemptionCode", "mutation { rotateRedemptionCode { errors { code } } }"
    )
    await support.mutate(
        "adjustCredits",
        ADJUST,
        {"accountId": account["id"], "credits": 10, "reason": "Welcome gift"},
    )
    log = (await ann.data(AUDIT))["auditLog"]
    actions = [e["node"]["action"] for e in log["edges"]]
    assert actions == [
        "credits.adjusted",
        "code.rotated",
        "owner.added",
        "account.updated",
        "account.created",
    ]
    newest = log["edges"][0]["node"]
    assert newest["actor"] == {"email": "help@credits.example"}
    assert newest["reason"] == "Welcome gift"
    assert log["edges"][2]["node"]["details"] == {"email": "bob@example.com"}


@pytest.mark.parametrize(
    "search,expected", [("plat", ["Platform"]), ("bob@", ["Data"]), ("", ["Data", "Platform"])]
)
async def test_support_finds_accounts_by_name_or_owner(ann, bob, support, search, expected):
    await create_account(ann, name="Platform")
    await create_account(bob, name="Data")
    data = await support.data(
        "query($s: String) { accounts(search: $s) "
        "{ totalCount edges { node { name balance { available } } } } }",
        {"s": search},
    )
    assert sorted(e["node"]["name"] for e in data["accounts"]["edges"]) == expected
    assert await ann.error_code("{ accounts { totalCount } }") == "FORBIDDEN"


async def test_extensions_are_bounded(ann, support):
    await create_account(ann)
    lot_id = (await buy(ann, 300, "p"))["purchase"]["lot"]["id"]
    for when in ["9999-12-31T23:59:59-12:00", "2040-01-01T00:00:00+00:00"]:
        payload = await support.mutate(
            "extendLot", EXTEND, {"id": lot_id, "expiresAt": when, "reason": "goodwill"}
        )
        assert payload["errors"] == [{"code": "INVALID_INPUT", "field": ["expiresAt"]}]
