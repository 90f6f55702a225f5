"""The application's clock: the one place that says what time it is.

Every rule reads time from `now()`, never from SQL `now()`, so tests and
`credits expire-now` can move it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def _system_clock() -> datetime:
    return datetime.now(UTC)


_clock: Clock = _system_clock


def now() -> datetime:
    return _clock()


def set_clock(clock: Clock | None) -> None:
    """Install a clock (None restores the system clock)."""
    global _clock
    _clock = clock or _system_clock


def add_years(moment: datetime, years: int) -> datetime:
    """The same instant `years` later; 29 February becomes 28 February."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
