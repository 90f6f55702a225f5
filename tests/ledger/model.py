"""A pure-Python model of the ledger, written from DESIGN.md and not from `ledger/`.

`tests/ledger/test_state_machine.py` drives the real ledger and this model side by side
and compares them after every step. The model knows lots, redemptions, quotes, approval
modes and course prices; it predicts balances, draws and which operations succeed, with
the decisions of `docs/decisions/0008` and `0010` where DESIGN.md leaves a choice open.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

AUTOMATIC, MANUAL = "AUTOMATIC", "MANUAL"
PENDING, APPROVED, DENIED, CANCELLED, REVERSED = (
    "PENDING",
    "APPROVED",
    "DENIED",
    "CANCELLED",
    "REVERSED",
)
OPEN, FULFILLED = "OPEN", "FULFILLED"
EXPIRING_WINDOW = timedelta(days=90)
FURTHEST_EXTENSION = timedelta(days=5 * 365)  # from now: support may not extend further
VOLUME_CREDITS, VOLUME_UNIT_CENTS, LIST_UNIT_CENTS = 20_000, 80, 100
MAX_CREDITS = 10_000_000


def one_year_after(moment: datetime) -> datetime:
    """The lot lifetime: the same instant a year later, 29 February becoming 28 February."""
    day = 28 if (moment.month, moment.day) == (2, 29) else moment.day
    return moment.replace(year=moment.year + 1, day=day)


def price_cents(credits: int) -> int:
    unit = VOLUME_UNIT_CENTS if credits >= VOLUME_CREDITS else LIST_UNIT_CENTS
    return credits * unit


@dataclass
class Lot:
    id: int
    account: int
    credits: int
    remaining: int
    purchased_at: datetime
    expires_at: datetime


@dataclass
class Redemption:
    id: int
    account: int
    learner: int
    credits: int
    status: str
    requested_at: datetime
    draws: list[tuple[int, int]] = field(default_factory=list)  # (lot id, credits)


@dataclass
class Account:
    mode: str
    auto_approve_limit: int | None = None


@dataclass
class Course:
    price: int
    active: bool = True


@dataclass
class Quote:
    account: int
    credits: int
    status: str = OPEN


@dataclass
class Decisions:
    """What a bulk approve/deny should answer: ids decided in order, errors by index."""

    decided: list[int] = field(default_factory=list)
    total_credits: int = 0
    errors: list[tuple[str, int]] = field(default_factory=list)  # (code, index in input)


@dataclass
class Ledger:
    now: datetime
    accounts: dict[int, Account] = field(default_factory=dict)
    courses: dict[int, Course] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    redemptions: dict[int, Redemption] = field(default_factory=dict)
    quotes: dict[int, Quote] = field(default_factory=dict)

    # Reading

    def live_lots(self, account: int) -> list[Lot]:
        """Unexpired lots with credits left, in draw order."""
        live = [
            lot
            for lot in self.lots.values()
            if lot.account == account and lot.expires_at > self.now and lot.remaining > 0
        ]
        return sorted(live, key=lambda lot: (lot.expires_at, lot.purchased_at, lot.id))

    def available(self, account: int) -> int:
        return sum(lot.remaining for lot in self.live_lots(account))

    def pending(self, account: int) -> int:
        return sum(
            r.credits
            for r in self.redemptions.values()
            if r.account == account and r.status == PENDING
        )

    def expiring_soon(self, account: int) -> int:
        horizon = self.now + EXPIRING_WINDOW
        return sum(lot.remaining for lot in self.live_lots(account) if lot.expires_at <= horizon)

    def next_expiry(self, account: int) -> datetime | None:
        live = self.live_lots(account)
        return live[0].expires_at if live else None

    def is_expired(self, lot_id: int) -> bool:
        return self.lots[lot_id].expires_at <= self.now

    # Changing

    def add_lot(self, lot_id: int, account: int, credits: int) -> Lot:
        lot = Lot(lot_id, account, credits, credits, self.now, one_year_after(self.now))
        self.lots[lot_id] = lot
        return lot

    def approves_at_once(self, account: int, credits: int) -> bool:
        settings = self.accounts[account]
        limit = settings.auto_approve_limit
        return settings.mode == AUTOMATIC or (limit is not None and credits <= limit)

    def take(self, account: int, credits: int) -> list[tuple[int, int]] | None:
        """Remove credits from the live lots in draw order: (lot id, credits) per lot touched,
        or None (and nothing changed) when the balance does not cover them."""
        lots = self.live_lots(account)
        if sum(lot.remaining for lot in lots) < credits:
            return None
        taken = []
        for lot in lots:
            share = min(lot.remaining, credits)
            lot.remaining -= share
            taken.append((lot.id, share))
            credits -= share
            if credits == 0:
                break
        return taken

    def draw(self, redemption: Redemption) -> bool:
        """Approve: take the redemption's credits; False if the balance does not cover them."""
        taken = self.take(redemption.account, redemption.credits)
        if taken is None:
            return False
        redemption.draws = taken
        redemption.status = APPROVED
        return True

    def decide(self, *, account: int | None, ids: list[int], approve: bool) -> Decisions:
        """Bulk approval or denial by the owner of `account` (None: support staff)."""
        first_index: dict[int, int] = {}
        for index, rid in enumerate(ids):
            first_index.setdefault(rid, index)
        result = Decisions()
        mine = []
        for rid, index in first_index.items():
            row = self.redemptions.get(rid)
            if row is None or (account is not None and row.account != account):
                result.errors.append(("NOT_FOUND", index))
            else:
                mine.append(row)
        for row in sorted(mine, key=lambda r: (r.requested_at, r.id)):
            if row.status != PENDING:
                result.errors.append(("NOT_PENDING", first_index[row.id]))
            elif approve and not self.draw(row):
                result.errors.append(("INSUFFICIENT_CREDITS", first_index[row.id]))
            else:
                row.status = APPROVED if approve else DENIED
                result.decided.append(row.id)
                result.total_credits += row.credits if approve else 0
        return result

    def expire_due(self) -> tuple[int, int, int]:
        """The nightly job: (lots expired, credits expired, accounts told)."""
        due = [
            lot for lot in self.lots.values() if lot.expires_at <= self.now and lot.remaining > 0
        ]
        credits = sum(lot.remaining for lot in due)
        for lot in due:
            lot.remaining = 0
        return len(due), credits, len({lot.account for lot in due})

    def reverse(self, redemption: Redemption) -> None:
        """Credits go back to the lots they came from; a share of an expired lot stays gone."""
        for lot_id, credits in redemption.draws:
            if not self.is_expired(lot_id):
                self.lots[lot_id].remaining += credits
        redemption.status = REVERSED

    def extension_refused(self, lot_id: int, expires_at: datetime) -> bool:
        """Only an unexpired lot's expiry can move, only later, and at most five years ahead."""
        return (
            self.is_expired(lot_id)
            or expires_at <= self.lots[lot_id].expires_at
            or expires_at > self.now + FURTHEST_EXTENSION
        )

    def lot_rows(self) -> dict[int, tuple[int, int, int, datetime, datetime]]:
        return {
            lot.id: (lot.account, lot.credits, lot.remaining, lot.purchased_at, lot.expires_at)
            for lot in self.lots.values()
        }

    def redemption_rows(self) -> dict[int, tuple[int, int, str]]:
        return {r.id: (r.account, r.credits, r.status) for r in self.redemptions.values()}

    def quote_rows(self) -> dict[int, tuple[int, int, str]]:
        return {i: (q.account, q.credits, q.status) for i, q in self.quotes.items()}

    def draw_rows(self) -> Counter[tuple[int, int, int]]:
        return Counter(
            (r.id, lot_id, credits)
            for r in self.redemptions.values()
            for lot_id, credits in r.draws
        )
