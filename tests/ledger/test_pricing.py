import pytest

from ledger import pricing
from ledger.errors import InvalidInput, InvalidPromoCode


@pytest.mark.parametrize(
    ("credits", "amount", "unit", "discount"),
    [
        (1, 100, 100, 0),
        (3_500, 350_000, 100, 0),
        (18_000, 1_800_000, 100, 0),
        (19_999, 1_999_900, 100, 0),
        (20_000, 1_600_000, 80, 20),
        (30_000, 2_400_000, 80, 20),
        (10_000_000, 800_000_000, 80, 20),
    ],
)
def test_volume_tiers_price_in_whole_cents(credits, amount, unit, discount):
    quote = pricing.quote(credits)
    assert (quote.amount_cents, quote.unit_price_cents, quote.discount_percent) == (
        amount,
        unit,
        discount,
    )
    assert quote.list_amount_cents == credits * 100


@pytest.mark.parametrize("credits", [16_000, 17_500, 19_999])
def test_sixteen_to_twenty_thousand_suggests_buying_twenty_thousand(credits):
    suggestion = pricing.quote(credits).suggestion
    assert suggestion == pricing.Suggestion(credits=20_000, amount_cents=1_600_000)


@pytest.mark.parametrize("credits", [1, 15_999, 20_000, 50_000])
def test_no_suggestion_outside_that_band(credits):
    assert pricing.quote(credits).suggestion is None


def test_promo_code_names_the_same_discount_and_never_stacks():
    quote = pricing.quote(20_000, "twentyoffTC")
    assert (quote.amount_cents, quote.discount_percent, quote.promo_code) == (
        1_600_000,
        20,
        "twentyoffTC",
    )
    assert pricing.quote(25_000, " TWENTYOFFtc ").amount_cents == 2_000_000


def test_promo_code_below_twenty_thousand_is_refused():
    with pytest.raises(InvalidPromoCode, match="20,000"):
        pricing.quote(19_999, "twentyoffTC")


def test_unknown_promo_code_is_refused():
    with pytest.raises(InvalidPromoCode):
        pricing.quote(30_000, "fiftyoff")


@pytest.mark.parametrize("credits", [0, -5, 10_000_001])
def test_credits_out_of_range(credits):
    with pytest.raises(InvalidInput) as caught:
        pricing.quote(credits)
    assert caught.value.field == ["credits"]
