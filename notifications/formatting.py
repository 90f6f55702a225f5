"""How money, credits, dates and people are written in emails. Integers only for money."""

from __future__ import annotations

from datetime import UTC, datetime

from models import User

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def usd(cents: int) -> str:
    """`1600000` → `$16,000.00`."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}${dollars:,}.{rest:02d}"


def number(value: int) -> str:
    return f"{value:,}"


def credits(value: int) -> str:
    """`20000` → `20,000 credits`; `1` → `1 credit`."""
    return f"{value:,} credit" if abs(value) == 1 else f"{value:,} credits"


def date(moment: datetime) -> str:
    """`1 March 2027` (UTC)."""
    utc = moment.astimezone(UTC)
    return f"{utc.day} {MONTHS[utc.month - 1]} {utc.year}"


def date_time(moment: datetime) -> str:
    """`1 March 2027, 09:00 UTC`: expiry happens at an instant, so the time matters."""
    utc = moment.astimezone(UTC)
    return f"{date(utc)}, {utc:%H:%M} UTC"


def display_name(user: User | None) -> str:
    """How to greet or name a person: their name, or their email before they have one."""
    if user is None:
        return "someone"
    return " ".join(user.name.split()) or user.email


def one_line(text: str) -> str:
    """Collapse whitespace, so that a header built from user input stays one header."""
    return " ".join(text.split())
