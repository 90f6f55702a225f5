from datetime import UTC, datetime, timedelta, timezone

from models import User
from notifications import formatting


def test_usd_is_exact_integer_arithmetic():
    assert formatting.usd(1_600_000) == "$16,000.00"
    assert formatting.usd(0) == "$0.00"
    assert formatting.usd(5) == "$0.05"
    assert formatting.usd(80) == "$0.80"
    assert formatting.usd(999_999_999_99) == "$999,999,999.99"
    # 10,000,000 credits at list price: beyond what a float keeps exact in cents * 0.01
    assert formatting.usd(1_000_000_000 + 1) == "$10,000,000.01"
    assert formatting.usd(-1_050) == "-$10.50"


def test_credits_and_numbers():
    assert formatting.credits(20_000) == "20,000 credits"
    assert formatting.credits(1) == "1 credit"
    assert formatting.number(1_234_567) == "1,234,567"


def test_dates_are_written_in_utc():
    moment = datetime(2027, 3, 1, 1, 30, tzinfo=timezone(timedelta(hours=5)))
    assert formatting.date(moment) == "28 February 2027"
    assert formatting.date_time(datetime(2027, 3, 1, 9, 0, tzinfo=UTC)) == (
        "1 March 2027, 09:00 UTC"
    )


def test_people_are_named_by_name_else_by_email():
    assert formatting.display_name(User(name=" Ann  Owner ", email="ann@example.com")) == (
        "Ann Owner"
    )
    assert formatting.display_name(User(name="", email="ivy@example.com")) == "ivy@example.com"


def test_one_line_collapses_header_breaking_whitespace():
    assert formatting.one_line("Data\r\nBcc: x@evil.example\tteam") == (
        "Data Bcc: x@evil.example team"
    )
