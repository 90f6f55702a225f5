"""The nightly expiry job over many lots on PostgreSQL, and how it scales.

    python -m bench.expiry [--lots 1000000] [--due 100000] [--accounts 10000]

Two cases in one run, each in its own throwaway database: `--lots` lots of which `--due`
are past `expires_at`, then the same due lots with twice the not-due lots. Each case
times `expire_due_lots()` once with everything due and once more right after, with
nothing left to do. The job should cost the same in both cases: its work is the due
lots, not every lot ever sold. Besides the time, the rows PostgreSQL read for the job
(`pg_stat_database`) show the work done, whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench import pg, report
from ledger import expiry

NOW = datetime(2027, 6, 1, 0, 15, tzinfo=UTC)
DUE_WINDOW_SECONDS = 24 * 3600  # due lots expired during the day before the run
YEAR_SECONDS = 365 * 24 * 3600  # not-due lots expire over the coming year


@dataclass(frozen=True)
class Shape:
    accounts: int
    due: int
    not_due: int

    @property
    def lots(self) -> int:
        return self.due + self.not_due


@dataclass
class JobRun:
    """The job timed on a case's database, and a second run right after."""

    seconds: float = 0.0
    lots_expired: int = 0
    credits_expired: int = 0
    messages: int = 0
    steps: dict[str, float] = field(default_factory=dict)
    buffers_read: int = 0
    rows_read: int = 0
    second_run_seconds: float = 0.0
    second_run_lots: int = 0
    wrong_balances: int = 0  # checked after the job, outside its figures

    @property
    def lots_per_second(self) -> float:
        return self.lots_expired / self.seconds if self.seconds else 0.0


@dataclass
class Case:
    name: str
    shape: Shape
    load_seconds: float = 0.0
    run: JobRun = field(default_factory=JobRun)


# One row per lot; the inserts below read it three times (purchase, lot, its entry).
SPEC_SQL = """
CREATE TEMP TABLE bench_lot AS
SELECT i AS id,
       (i - 1) % $1::int + 1 AS account_id,
       100 + (i * 37) % 900 AS credits,
       CASE WHEN i <= $2::int
            THEN $4::timestamptz - make_interval(secs => ($2::int - i + 1) * $5::float8 / $2::int)
            ELSE $4::timestamptz + make_interval(secs => (i - $2::int) * $6::float8 / $3::int)
       END AS expires_at
FROM generate_series(1, $2::int + $3::int) AS i
"""

LOAD_SQL = [
    """
    INSERT INTO account (id, name, approval_mode, code_hash, code_ciphertext, created_at)
    SELECT a, 'Bench account ' || a, 'AUTOMATIC', md5('bench-' || a), 'not-a-code',
           $1::timestamptz - interval '3 years'
    FROM generate_series(1, $2::int) AS a
    """,
    """
    INSERT INTO purchase (id, account_id, credits, unit_price_cents, discount_percent,
                          amount_cents, method, status, created_at, paid_at)
    SELECT id, account_id, credits, 100, 0, credits * 100, 'CARD', 'PAID',
           expires_at - interval '1 year', expires_at - interval '1 year'
    FROM bench_lot
    """,
    """
    INSERT INTO lot (id, account_id, purchase_id, credits, remaining, purchased_at,
                     expires_at, created_at)
    SELECT id, account_id, id, credits, credits, expires_at - interval '1 year', expires_at,
           expires_at - interval '1 year'
    FROM bench_lot
    """,
    """
    INSERT INTO ledger_entry (id, account_id, lot_id, kind, credits, balance_after,
                              purchase_id, created_at)
    SELECT id, account_id, id, 'PURCHASE', credits,
           -- what a real purchase records: the account's credits in lots still live
           -- then, i.e. bought less than a year before (every lot lasts a year)
           SUM(credits) OVER (
               PARTITION BY account_id ORDER BY expires_at
               RANGE BETWEEN interval '1 year' - interval '1 microsecond' PRECEDING
                         AND CURRENT ROW),
           id, expires_at - interval '1 year'
    FROM bench_lot
    """,
]

SEQUENCED = ("account", "purchase", "lot", "ledger_entry")


async def load(url: str, shape: Shape) -> float:
    """Fill the database with `shape` in bulk (a few INSERT … SELECT); answer the seconds."""
    started = time.perf_counter()
    conn = await asyncpg.connect(pg.asyncpg_dsn(url))
    try:
        async with conn.transaction():
            # The rows are consistent by construction: skip the per-row foreign-key
            # triggers while loading (CHECK constraints and indexes still apply).
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(
                SPEC_SQL,
                shape.accounts,
                shape.due,
                shape.not_due,
                NOW,
                float(DUE_WINDOW_SECONDS),
                float(YEAR_SECONDS),
            )
            await conn.execute(LOAD_SQL[0], NOW, shape.accounts)
            for sql in LOAD_SQL[1:]:
                await conn.execute(sql)
            for table in SEQUENCED:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                    f' (SELECT max(id) FROM "{table}"))'
                )
            await conn.execute("DROP TABLE bench_lot")
        # What autovacuum would have done by the night of the run: hint bits, the
        # visibility map and planner statistics. Not timed as part of the job.
        await conn.execute("VACUUM (ANALYZE)")
    finally:
        await conn.close()
    return time.perf_counter() - started


@contextmanager
def timed_steps() -> Iterator[dict[str, float]]:
    """Time the job's steps by wrapping its module functions (restored afterwards)."""
    totals: dict[str, float] = {}
    names = ("_due_lots_by_account", "_expire_accounts", "_balances_after_expiry")
    originals = {name: getattr(expiry, name) for name in names}

    def timed(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                totals[name] = totals.get(name, 0.0) + time.perf_counter() - started

        return wrapper

    for name, fn in originals.items():
        setattr(expiry, name, timed(name, fn))
    try:
        yield totals
    finally:
        for name, fn in originals.items():
            setattr(expiry, name, fn)


async def database_reads(url: str) -> dict[str, int]:
    """Shared buffers and rows read in this database so far (exited backends included)."""
    conn = await asyncpg.connect(pg.asyncpg_dsn(url))
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        row = await conn.fetchrow(
            "SELECT blks_hit + blks_read AS buffers, tup_returned + tup_fetched AS rows"
            " FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return {"buffers": int(row["buffers"]), "rows": int(row["rows"])}


WRONG_BALANCES_SQL = """
SELECT count(*) FROM ledger_entry e
WHERE e.kind = 'EXPIRY' AND e.balance_after <> (
    SELECT COALESCE(SUM(remaining), 0) FROM lot
    WHERE lot.account_id = e.account_id AND lot.expires_at > $1)
"""


async def wrong_balances(url: str) -> int:
    """EXPIRY entries whose balance_after is not the account's balance after the job."""
    conn = await asyncpg.connect(pg.asyncpg_dsn(url))
    try:
        return int(await conn.fetchval(WRONG_BALANCES_SQL, NOW))
    finally:
        await conn.close()


async def run_job(url: str, case: Case) -> JobRun:
    run = JobRun()
    before = await database_reads(url)
    async with pg.tortoise_on(url):
        with timed_steps() as steps:
            started = time.perf_counter()
            result = await expiry.expire_due_lots(now=NOW)
            run.seconds = time.perf_counter() - started
        run.steps = dict(steps)
        run.lots_expired, run.credits_expired = result.lots, result.credits
        run.messages = result.messages
        started = time.perf_counter()
        again = await expiry.expire_due_lots(now=NOW)
        run.second_run_seconds = time.perf_counter() - started
        run.second_run_lots = again.lots
    await asyncio.sleep(0.5)  # closed backends report their statistics as they exit
    after = await database_reads(url)
    run.buffers_read, run.rows_read = (after[k] - before[k] for k in ("buffers", "rows"))
    run.wrong_balances = await wrong_balances(url)
    if run.lots_expired != case.shape.due or run.second_run_lots or run.wrong_balances:
        raise RuntimeError(
            f"{case.name}: expired {run.lots_expired}, then {run.second_run_lots};"
            f" {run.wrong_balances} EXPIRY entries with a wrong balance_after"
        )
    return run


async def measure(case: Case) -> None:
    """Load the case into a new database, time the job on it, drop the database.

    One case at a time: the first one's database is gone (and autovacuum with it) before
    the second one is loaded and timed.
    """
    print(f"{case.name}: loading {case.shape.lots:,} lots ({case.shape.due:,} due) …", flush=True)
    async with pg.throwaway_database("credits_bench_expiry") as url:
        case.load_seconds = await load(url, case.shape)
        print(f"{case.name}: loaded in {case.load_seconds:.1f} s; running the job …", flush=True)
        case.run = await run_job(url, case)


def print_cases(cases: list[Case]) -> None:
    headers = [
        "case", "lots", "not due", "due", "load s", "job s", "lots/s", "find accounts s",
        "balances s", "messages", "rows read", "2nd run s",
    ]  # fmt: skip
    rows = [
        [
            c.name, c.shape.lots, c.shape.not_due, c.shape.due, c.load_seconds, b.seconds,
            b.lots_per_second, b.steps.get("_due_lots_by_account", 0.0),
            b.steps.get("_balances_after_expiry", 0.0), b.messages, b.rows_read,
            b.second_run_seconds,
        ]
        for c in cases
        for b in [c.run]
    ]  # fmt: skip
    print()
    print(report.table(headers, rows))
    base, doubled = cases[0].run, cases[1].run
    print(
        f"\nnot-due lots x{cases[1].shape.not_due / cases[0].shape.not_due:.1f}: job time"
        f" x{doubled.seconds / base.seconds:.2f}, rows read"
        f" x{doubled.rows_read / base.rows_read:.2f} (flat would be x1.00)"
    )
    accounts = min(cases[0].shape.accounts, cases[0].shape.due)
    print(f"messages queued: {base.messages:,} for {accounts:,} accounts with due lots")


def figures(cases: list[Case]) -> dict[str, Any]:
    base, doubled = cases[0].run, cases[1].run
    return {
        "now": NOW,
        "cases": [
            {
                "name": c.name,
                "shape": asdict(c.shape),
                "lots": c.shape.lots,
                "load_seconds": c.load_seconds,
                "job": {**asdict(c.run), "lots_per_second": c.run.lots_per_second},
            }
            for c in cases
        ],
        "job_time_ratio": doubled.seconds / base.seconds,
        "rows_read_ratio": doubled.rows_read / base.rows_read,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.expiry", description=__doc__)
    parser.add_argument("--lots", type=int, default=1_000_000, help="lots in the first case")
    parser.add_argument("--due", type=int, default=100_000, help="of which due")
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not 0 < args.due < args.lots:
        parser.error("need 0 < --due < --lots")
    return args


async def main_async(args: argparse.Namespace) -> list[Case]:
    not_due = args.lots - args.due
    cases = [
        Case("not due x1", Shape(args.accounts, args.due, not_due)),
        Case("not due x2", Shape(args.accounts, args.due, 2 * not_due)),
    ]
    for case in cases:
        await measure(case)
    return cases


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load = report.warn_if_busy()
    cases = asyncio.run(main_async(args))
    print_cases(cases)
    saved = report.save("expiry", {"load_average_at_start": load, **figures(cases)})
    print(f"\nsaved {saved}")


if __name__ == "__main__":
    main()
