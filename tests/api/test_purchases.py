from datetime import UTC, datetime

from models import Lot, Purchase, PurchaseStatus
from tests.helpers import BALANCE, PURCHASE, buy, create_account
from tests.invariants import assert_ledger_invariants

LOTS = """
query($status: LotStatus, $first: Int, $after: String) {
  lots(status: $status, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { credits remaining status purchasedAt expiresAt } }
  }
}"""
HISTORY = """
query($first: Int, $after: String) {
  transactions(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { kind credits balanceAfter actor { email } purchase { amountCents } } }
  }
}"""


async def test_twenty_thousand_credits_cost_sixteen_thousand_dollars(ann, clock):
    await create_account(ann)
    payload = await buy(ann, 20_000, "k1")
    purchase = payload["purchase"]
    assert payload["errors"] == []
    assert (purchase["amountCents"], purchase["unitPriceCents"], purchase["discountPercent"]) == (
        1_600_000,
        80,
        20,
    )
    assert purchase["status"] == "PAID"
    assert purchase["lot"]["remaining"] == 20_000
    assert purchase["lot"]["expiresAt"] == "2027-03-01T09:00:00+00:00"
    balance = (await ann.data(BALANCE))["balance"]
    assert balance == {
        "available": 20_000,
        "pending": 0,
        "expiringWithin90Days": 0,
        "nextExpiry": "2027-03-01T09:00:00+00:00",
    }
    await assert_ledger_invariants()


async def test_promo_code_and_quote_suggestion(ann):
    await create_account(ann)
    quote = await ann.data(
        "{ priceQuote(credits: 19999) { amountCents suggestion { credits amountCents } } }"
    )
    assert quote["priceQuote"] == {
        "amountCents": 1_999_900,
        "suggestion": {"credits": 20_000, "amountCents": 1_600_000},
    }
    code = await ann.error_code(
        '{ priceQuote(credits: 19999, promoCode: "twentyoffTC") { amountCents } }'
    )
    assert code == "INVALID_PROMO_CODE"
    refused = await buy(ann, 19_999, "k-promo", promoCode="twentyoffTC")
    assert refused["errors"][0]["code"] == "INVALID_PROMO_CODE"
    ok = await buy(ann, 20_000, "k-promo2", promoCode="twentyoffTC")
    assert ok["purchase"]["amountCents"] == 1_600_000


async def test_a_declined_card_adds_nothing_and_replays_the_decline(ann, sandbox_gateway):
    await create_account(ann)
    declined = await buy(ann, 500, "k-declined", token="tok_chargeDeclined")
    assert declined["purchase"] is None
    assert declined["errors"][0]["code"] == "PAYMENT_DECLINED"
    again = await buy(ann, 500, "k-declined", token="tok_chargeDeclined")
    assert again["errors"] == declined["errors"]
    assert sandbox_gateway.charge_count == 1
    assert (await ann.data(BALANCE))["balance"]["available"] == 0
    assert await Lot.all().count() == 0
    assert [p.status for p in await Purchase.all()] == [PurchaseStatus.FAILED]
    retry = await buy(ann, 500, "k-new-attempt")
    assert retry["purchase"]["status"] == "PAID"


async def test_same_key_same_answer_no_second_charge(ann, sandbox_gateway):
    await create_account(ann)
    first = await buy(ann, 1_000, "same")
    second = await buy(ann, 1_000, "same")
    assert first == second
    assert sandbox_gateway.charge_count == 1
    assert await Lot.all().count() == 1


async def test_same_key_other_input_is_a_conflict(ann):
    await create_account(ann)
    await buy(ann, 1_000, "same")
    conflict = await buy(ann, 2_000, "same")
    assert conflict["errors"][0]["code"] == "IDEMPOTENCY_CONFLICT"
    assert await Lot.all().count() == 1


async def test_input_errors_are_not_stored(ann):
    await create_account(ann)
    too_many = await buy(ann, 10_000_001, "k")
    assert too_many["errors"] == [
        {"code": "INVALID_INPUT", "message": too_many["errors"][0]["message"], "field": ["credits"]}
    ]
    fine = await buy(ann, 10_000_000, "k")
    assert fine["purchase"]["amountCents"] == 800_000_000


async def test_exactly_one_payment_source(ann):
    await create_account(ann)
    both = await ann.mutate(
        "purchaseCredits",
        PURCHASE,
        {
            "input": {
                "credits": 10,
                "paymentToken": "tok_visa",
                "useSavedPaymentMethod": True,
                "idempotencyKey": "x",
            }
        },
    )
    assert both["errors"][0]["code"] == "INVALID_INPUT"
    neither = await ann.mutate(
        "purchaseCredits", PURCHASE, {"input": {"credits": 10, "idempotencyKey": "y"}}
    )
    assert neither["errors"][0]["code"] == "INVALID_INPUT"


async def test_refill_uses_the_saved_card(ann, sandbox_gateway):
    await create_account(ann)
    no_card = await ann.mutate(
        "purchaseCredits",
        PURCHASE,
        {"input": {"credits": 10, "useSavedPaymentMethod": True, "idempotencyKey": "r0"}},
    )
    assert no_card["errors"][0]["field"] == ["useSavedPaymentMethod"]
    await buy(ann, 100, "first")
    refill = await ann.mutate(
        "purchaseCredits",
        PURCHASE,
        {"input": {"credits": 250, "useSavedPaymentMethod": True, "idempotencyKey": "r1"}},
    )
    assert refill["purchase"]["status"] == "PAID"
    assert (await ann.data(BALANCE))["balance"]["available"] == 350


async def test_leap_day_purchase_expires_on_28_february(ann, clock):
    clock.set(datetime(2028, 2, 29, 12, 0, tzinfo=UTC))
    await create_account(ann)
    payload = await buy(ann, 100, "leap")
    assert payload["purchase"]["lot"]["expiresAt"] == "2029-02-28T12:00:00+00:00"


async def test_lots_expire_at_their_instant_and_pages_are_keyset(ann, clock):
    await create_account(ann)
    for i in range(5):
        await buy(ann, 100 * (i + 1), f"k{i}")
        clock.advance(days=30)
    page = (await ann.data(LOTS, {"first": 2}))["lots"]
    assert page["totalCount"] == 5
    assert [e["node"]["credits"] for e in page["edges"]] == [500, 400]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = (await ann.data(LOTS, {"first": 10, "after": page["pageInfo"]["endCursor"]}))["lots"]
    assert [e["node"]["credits"] for e in rest["edges"]] == [300, 200, 100]
    assert rest["pageInfo"]["hasNextPage"] is False

    # The first lot was bought on 1 March 2026; at its expiry instant it is expired.
    clock.set(datetime(2027, 3, 1, 9, 0, tzinfo=UTC))
    expired = (await ann.data(LOTS, {"status": "EXPIRED"}))["lots"]
    assert [e["node"]["credits"] for e in expired["edges"]] == [100]
    balance = (await ann.data(BALANCE))["balance"]
    assert balance["available"] == 200 + 300 + 400 + 500
    assert balance["expiringWithin90Days"] == 200 + 300 + 400
    assert balance["nextExpiry"] == "2027-03-31T09:00:00+00:00"
    await assert_ledger_invariants()


async def test_history_is_newest_first_with_balance_after(ann):
    await create_account(ann)
    await buy(ann, 100, "a")
    await buy(ann, 250, "b")
    history = (await ann.data(HISTORY))["transactions"]
    assert [
        (e["node"]["kind"], e["node"]["credits"], e["node"]["balanceAfter"])
        for e in history["edges"]
    ] == [("PURCHASE", 250, 350), ("PURCHASE", 100, 100)]
    assert history["edges"][0]["node"]["actor"] == {"email": "ann@example.com"}


async def test_page_size_limits(ann):
    await create_account(ann)
    assert await ann.error_code("{ lots(first: 101) { totalCount } }") == "INVALID_INPUT"
    assert await ann.error_code('{ lots(after: "garbage") { totalCount } }') == "INVALID_INPUT"
    assert (await ann.data("{ lots(first: 100) { totalCount } }"))["lots"]["totalCount"] == 0


async def test_forged_cursors_and_far_dates_are_invalid_input_not_errors(ann):
    import base64

    await create_account(ann)
    huge = base64.urlsafe_b64encode(b"k:99999999999999999999").decode()
    code = await ann.error_code(
        "query($a: String) { transactions(after: $a) { totalCount } }", {"a": huge}
    )
    assert code == "INVALID_INPUT"
    far = await ann.error_code('{ usageReport(from: "0001-01-01", to: "9999-12-31") { from } }')
    assert far == "INVALID_INPUT"
