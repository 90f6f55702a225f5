"""The usage report: what came in and went out per month, who and what used the credits,
and what is at risk of expiring. SQL aggregates only; Python fills in empty months.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from tortoise.functions import Count, Sum

from ledger import access, clock
from ledger.actors import Actor
from ledger.errors import InvalidInput
from ledger.pages import check_date
from ledger.sql import fetch, month_of
from models import EntryKind, LedgerEntry, Redemption, RedemptionStatus

MAX_MONTHS = 36
TOP = 10


@dataclass
class MonthUsage:
    month: str
    purchased: int = 0
    redeemed: int = 0
    expired: int = 0
    reversed: int = 0
    adjusted: int = 0
    balance: int = 0

    def add(self, kind: EntryKind, credits: int) -> None:
        """Count a month's sum of entries of `kind` (debits are negative)."""
        match kind:
            case EntryKind.PURCHASE:
                self.purchased += credits
            case EntryKind.REDEMPTION:
                self.redeemed -= credits
            case EntryKind.EXPIRY:
                self.expired -= credits
            case EntryKind.REVERSAL:
                self.reversed += credits
            case EntryKind.ADJUSTMENT:
                self.adjusted += credits
            case EntryKind.EXTENSION:
                pass  # moves no credits

    @property
    def change(self) -> int:
        return self.purchased - self.redeemed - self.expired + self.reversed + self.adjusted


@dataclass(frozen=True)
class Ranked:
    id: int
    credits: int
    redemptions: int


@dataclass
class UsageReport:
    start: date
    end: date
    months: list[MonthUsage] = field(default_factory=list)
    top_learners: list[Ranked] = field(default_factory=list)
    top_courses: list[Ranked] = field(default_factory=list)
    expiring_by_month: list[tuple[str, int]] = field(default_factory=list)


def _months(start: date, end: date) -> list[str]:
    months, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _period(start: date | None, end: date | None) -> tuple[date, date]:
    start, end = check_date(start, "from"), check_date(end, "to")
    end = end or clock.now().date()
    start = start or date(end.year - 1, end.month, 1)
    if start > end:
        raise InvalidInput("from must not be after to", field=["from"])
    if len(_months(start, end)) > MAX_MONTHS:
        raise InvalidInput(f"a report covers at most {MAX_MONTHS} months", field=["from"])
    return start, end


async def _ranked(account_id: int, by: str, since: datetime, until: datetime) -> list[Ranked]:
    rows = (
        await Redemption.filter(
            account_id=account_id,
            status=RedemptionStatus.APPROVED,
            decided_at__gte=since,
            decided_at__lt=until,
        )
        .group_by(by)
        .annotate(total=Sum("credits"), count=Count("id"))
        .order_by("-total", by)
        .limit(TOP)
        .values(by, "total", "count")
    )
    return [Ranked(int(r[by]), int(r["total"]), int(r["count"])) for r in rows]


async def usage_report(
    *, actor: Actor, account_id: int | None, start: date | None, end: date | None
) -> UsageReport:
    account = await access.account_for(actor, account_id)
    start, end = _period(start, end)
    since = datetime.combine(start, time.min, UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, UTC)
    return UsageReport(
        start=start,
        end=end,
        months=await _monthly_usage(account.id, _months(start, end), since, until),
        top_learners=await _ranked(account.id, "learner_id", since, until),
        top_courses=await _ranked(account.id, "course_id", since, until),
        expiring_by_month=await _expiring_by_month(account.id),
    )


async def _monthly_usage(
    account_id: int, months: list[str], since: datetime, until: datetime
) -> list[MonthUsage]:
    """Each month's credits in and out by kind of entry, and the balance at its end."""
    opening = (
        await LedgerEntry.filter(account_id=account_id, created_at__lt=since)
        .annotate(total=Sum("credits"))
        .values("total")
    )
    balance = int(opening[0]["total"] or 0) if opening else 0
    month = month_of("created_at")
    sums = await fetch(
        f"SELECT {month} AS month, kind, SUM(credits) AS credits FROM ledger_entry"
        " WHERE account_id = %s AND created_at >= %s AND created_at < %s"
        f" GROUP BY {month}, kind",
        account_id,
        since,
        until,
    )
    by_month = {m: MonthUsage(month=m) for m in months}
    for row in sums:
        if (usage := by_month.get(row["month"])) is not None:
            usage.add(EntryKind(row["kind"]), int(row["credits"]))
    for usage in by_month.values():
        balance += usage.change
        usage.balance = balance
    return list(by_month.values())


async def _expiring_by_month(account_id: int) -> list[tuple[str, int]]:
    """Credits still live, by the month their lot expires."""
    expiring = month_of("expires_at")
    rows = await fetch(
        f"SELECT {expiring} AS month, SUM(remaining) AS credits FROM lot"
        " WHERE account_id = %s AND remaining > 0 AND expires_at > %s"
        f" GROUP BY {expiring} ORDER BY {expiring}",
        account_id,
        clock.now(),
    )
    return [(r["month"], int(r["credits"])) for r in rows]
