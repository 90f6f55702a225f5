"""Emails per second from one `credits worker` process to a loopback SMTP sink.

    python -m bench.mail [--rounds 5] [--messages 200] [--threads 8] [--no-kill]

Scenarios (issue 14), each on its own rows of one throwaway PostgreSQL database, with a
private redis-server, one `credits worker --processes 1` and an aiosmtpd sink in a
process of its own that counts emails and duplicate Message-IDs:

- **fan-out**: one `redemption_requested` notification to an account's 200 owners,
  `--rounds` times (one notification at a time, each waited for);
- **many**: `--messages` (200) notifications at once to an account's 3 owners;
- **kill -9**: two 200-owner notifications and 100 three-owner ones queued; once the sink
  has 150 emails the worker and its children are killed with SIGKILL, a second worker
  delivers the rest (leases of 5 s, lost rows handed over again after 5 s); afterwards
  every expected Message-ID must have arrived (no loss) and none twice (no duplicate).

Rates count from the first to the last email the sink accepted; CPU per email is the
worker's process tree over the same rounds (start-up excluded). Baseline in the same
run: the same composed emails as bytes, sent with bare aiosmtplib `sendmail` (no
database, no broker) over 1 and over 8 reused connections, its CPU measured in this
process.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiosmtplib
from tortoise import connections

from bench import pg, report
from bench.services import Worker, redis_server
from bench.sink import Sink
from ledger.accounts import add_owner, create_account, display_code
from ledger.actors import Actor
from ledger.events import OutboxKind
from ledger.purchases import purchase_credits
from ledger.redemptions import redeem_credits
from ledger.users import sign_in
from models import Account, ApprovalMode, Course, OutboxMessage
from notifications import build_emails
from settings import get_settings
from workers.compose import RawEmail, Sender, compose_raw

FANOUT_OWNERS = 200
FEW_OWNERS = 3
KILL_AT = 150  # emails at the sink when the first worker is killed
WORKER_LOG = report.RESULTS / "mail-worker.log"


@dataclass
class Rate:
    name: str
    emails: int
    seconds: float  # first to last accepted email, summed over rounds
    cpu_seconds: float  # the sender's CPU over the same rounds
    duplicates: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.emails / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_ms_per_email(self) -> float:
        return 1000 * self.cpu_seconds / self.emails if self.emails else 0.0


async def requested_notification(name: str, owners: int) -> int:
    """An account made through the ledger with `owners` owners (manual approval) and one
    pending redemption: the id of its `redemption_requested` outbox row."""
    ann = Actor(user=await sign_in(sub=f"{name}-ann", email=f"ann@{name}.example", name="Ann"))
    account = await create_account(actor=ann, name=name, approval_mode=ApprovalMode.MANUAL)
    for i in range(1, owners):
        await add_owner(actor=ann, account_id=account.id, email=f"owner{i}@{name}.example")
    await purchase_credits(
        actor=ann, account_id=account.id, credits=20_000, payment_token="tok_visa",
        idempotency_key=f"{name}-purchase",
    )  # fmt: skip
    now = account.created_at
    course = await Course.create(
        sku=f"{name}-101", title="Jira Fundamentals", price_credits=150, created_at=now,
        updated_at=now,
    )  # fmt: skip
    lee = Actor(user=await sign_in(sub=f"{name}-lee", email=f"lee@{name}.example", name="Lee"))
    account = await Account.get(id=account.id)
    await redeem_credits(
        actor=lee, code=display_code(account), course_id=course.id, idempotency_key=f"{name}-r"
    )
    message = (
        await OutboxMessage.filter(kind=OutboxKind.REDEMPTION_REQUESTED).order_by("-id").first()
    )
    assert message is not None
    return int(message.id)


async def queue_copies(template_id: int, count: int, *, retire: bool = True) -> list[int]:
    """Rows not yet handed over count as delivered (unless `retire` is False); then
    `count` fresh rows like the template."""
    conn = connections.get("default")
    if retire:
        await conn.execute_query(
            "UPDATE outbox_message SET dispatched_at = now(), delivered_at = now()"
            " WHERE delivered_at IS NULL AND dispatched_at IS NULL"
        )
    rows = await conn.execute_query_dict(
        "INSERT INTO outbox_message (kind, payload, created_at, attempts)"
        " SELECT kind, payload, created_at, 0 FROM outbox_message, generate_series(1, $2)"
        " WHERE id = $1 RETURNING id",
        [template_id, count],
    )
    return [int(r["id"]) for r in rows]


async def raw_emails(message_id: int, expected: int) -> list[RawEmail]:
    settings = get_settings()
    message = await OutboxMessage.get(id=message_id)
    emails = await build_emails(message, settings=settings)
    if len(emails) != expected:
        raise RuntimeError(f"expected {expected} emails, built {len(emails)}")
    sender, date = Sender.parse(settings.mail_from), email.utils.format_datetime(message.created_at)
    return [compose_raw(e, outbox_id=message.id, sender=sender, date=date) for e in emails]


async def outbox_state() -> dict[str, int]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) FILTER (WHERE delivered_at IS NULL) AS undelivered,"
        " count(*) FILTER (WHERE attempts > 1) AS retried,"
        " (SELECT count(*) FROM email_delivery) AS deliveries FROM outbox_message"
    )
    return {k: int(v) for k, v in rows[0].items()}


def worker_env(sink: Sink, db_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink.port), "OUTBOX_POLL_SECONDS": "0.05", **extra,
    }  # fmt: skip


def run_rounds(
    sink: Sink, worker: Worker, rounds: list[Callable[[], object]], emails: int, timeout: float
) -> tuple[float, float, int]:
    """Each round queues its rows and waits for its `emails`: summed first-to-last
    seconds, the worker's CPU over the rounds, duplicates seen."""
    seconds, duplicates = 0.0, 0
    cpu_before = worker.cpu_now()
    for queue in rounds:
        sink.counters.reset()
        queue()
        if not sink.wait_for(emails, timeout=timeout, alive=worker.alive):
            got = sink.counters.snapshot()[0]
            raise RuntimeError(f"the worker delivered {got:,} of {emails:,}; see {WORKER_LOG}")
        time.sleep(0.2)  # a duplicate would arrive now
        count, first, last = sink.counters.snapshot()
        seconds += last - first
        duplicates += sink.counters.duplicate_count() + count - emails
    return seconds, worker.cpu_now() - cpu_before, duplicates


def queue_in_thread(url: str, template: int, count: int) -> Callable[[], object]:
    async def queue() -> None:
        async with pg.tortoise_on(url):
            await queue_copies(template, count)

    return lambda: asyncio.run(queue())


def measure_worker(
    sink: Sink, url: str, args: argparse.Namespace, fanout: int, few: int
) -> list[Rate]:
    with redis_server() as redis_url:
        env = worker_env(sink, url, redis_url)
        with Worker(env, WORKER_LOG, threads=args.threads) as worker:
            # Start-up (and a first delivery) before anything is measured.
            run_rounds(sink, worker, [queue_in_thread(url, few, 1)], FEW_OWNERS, args.timeout)
            fan = [queue_in_thread(url, fanout, 1) for _ in range(args.rounds)]
            seconds, cpu_s, dups = run_rounds(sink, worker, fan, FANOUT_OWNERS, args.timeout)
            fan_rate = Rate(
                f"worker: 1 notification x {FANOUT_OWNERS} owners ({args.rounds} rounds)",
                FANOUT_OWNERS * args.rounds, seconds, cpu_s, dups,
            )  # fmt: skip
            many = [queue_in_thread(url, few, args.messages)]
            emails = args.messages * FEW_OWNERS
            seconds, cpu_s, dups = run_rounds(sink, worker, many, emails, args.timeout)
            many_rate = Rate(
                f"worker: {args.messages} notifications x {FEW_OWNERS} owners",
                emails, seconds, cpu_s, dups,
            )  # fmt: skip
    return [fan_rate, many_rate]


async def kill_and_restart(sink: Sink, url: str, args: argparse.Namespace, fanout: int,
                           few: int) -> dict[str, Any]:  # fmt: skip
    """Two 200-owner notifications and 100 three-owner ones; kill -9 at KILL_AT emails."""
    async with pg.tortoise_on(url):
        ids = await queue_copies(fanout, 2) + await queue_copies(few, 100, retire=False)
        expected = 2 * FANOUT_OWNERS + 100 * FEW_OWNERS
    sink.counters.reset()
    fast = {"MAIL_LEASE_SECONDS": "5", "OUTBOX_REDISPATCH_SECONDS": "5",
            "OUTBOX_SWEEP_SECONDS": "1", "MAIL_RETRY_MIN_BACKOFF_MS": "200"}  # fmt: skip
    notes = Path(tempfile.mkdtemp(prefix="credits-mail-journal-"))  # decision 33
    with redis_server() as redis_url:
        env = worker_env(sink, url, redis_url, **fast, MAIL_JOURNAL_DIR=str(notes))
        with Worker(env, WORKER_LOG, threads=args.threads) as first:
            if not await asyncio.to_thread(sink.wait_for, KILL_AT, timeout=args.timeout):
                raise RuntimeError(f"the first worker never reached {KILL_AT}; see {WORKER_LOG}")
            first.kill9()
        at_kill = sink.counters.snapshot()[0]
        noted_at_kill = _noted(notes)
        async with pg.tortoise_on(url):
            recorded_at_kill = await _deliveries(ids)
        with Worker(env, WORKER_LOG.with_name("mail-successor.log"), threads=args.threads) as nxt:
            deadline = time.monotonic() + args.timeout
            async with pg.tortoise_on(url):
                while await OutboxMessage.filter(id__in=ids, delivered_at__isnull=True).exists():
                    if time.monotonic() > deadline or not nxt.alive():
                        raise RuntimeError("the successor did not deliver the rest")
                    await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # anything sent twice arrives now
    count = sink.counters.snapshot()[0]
    duplicates = sink.counters.duplicate_count()
    async with pg.tortoise_on(url):
        recorded = await _deliveries(ids)
    return {
        "expected": expected, "received": count, "duplicates": duplicates,
        "lost": expected - (count - duplicates), "received_at_kill": at_kill,
        "recorded_at_kill": recorded_at_kill, "noted_in_journals_at_kill": noted_at_kill,
        "recorded": recorded, "journals_left": len(_journals(notes)),
    }  # fmt: skip


def _journals(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def _noted(directory: Path) -> int:
    """Recipients noted in the journals of deliveries under way (their header aside)."""
    return sum(len(path.read_text().splitlines()) - 1 for path in _journals(directory))


async def _deliveries(ids: list[int]) -> int:
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) AS n FROM email_delivery WHERE message_id = ANY($1)", [ids]
    )
    return int(rows[0]["n"])


async def bare_sendmail(port: int, emails: list[RawEmail], connections: int) -> None:
    async def sender(share: list[RawEmail]) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            for m in share:
                await smtp.sendmail(m.sender, [m.recipient], m.data)

    await asyncio.gather(*(sender(emails[i::connections]) for i in range(connections)))


async def measure_baseline(sink: Sink, emails: list[RawEmail], at_once: int) -> Rate:
    sink.counters.reset()
    cpu_before = time.process_time()
    await bare_sendmail(sink.port, emails, at_once)
    cpu_s = time.process_time() - cpu_before
    if not await asyncio.to_thread(sink.wait_for, len(emails), timeout=30):
        raise RuntimeError(f"baseline: the sink accepted {sink.counters.snapshot()[0]}")
    count, first, last = sink.counters.snapshot()
    name = f"bare aiosmtplib sendmail, {at_once} connection{'s' if at_once > 1 else ''}"
    return Rate(name, count, last - first, cpu_s)


async def run(args: argparse.Namespace, sink: Sink) -> dict[str, Any]:
    async with pg.throwaway_database("credits_bench_mail") as url:
        async with pg.tortoise_on(url):
            fanout = await requested_notification("wide", FANOUT_OWNERS)
            few = await requested_notification("small", FEW_OWNERS)
            same = await raw_emails(fanout, FANOUT_OWNERS)
            await queue_copies(fanout, 0)
        print("fan-out and many, one worker …", flush=True)
        rates = await asyncio.to_thread(measure_worker, sink, url, args, fanout, few)
        async with pg.tortoise_on(url):
            state = await outbox_state()
        kill = None
        if not args.no_kill:
            print("kill -9 mid-batch, then a second worker …", flush=True)
            kill = await kill_and_restart(sink, url, args, fanout, few)
    print("bare aiosmtplib …", flush=True)
    emails = same * args.rounds
    rates += [await measure_baseline(sink, emails, n) for n in (1, args.threads)]
    return {"rates": rates, "outbox_after_worker": state, "kill": kill}


def print_results(results: dict[str, Any]) -> None:
    rates: list[Rate] = results["rates"]
    print()
    print(report.table(
        ["sender", "emails", "seconds", "emails/s", "CPU ms/email", "duplicates"],
        [[r.name, r.emails, r.seconds, r.per_second, r.cpu_ms_per_email, r.duplicates]
         for r in rates],
    ))  # fmt: skip
    fastest = max(rates[2:], key=lambda r: r.per_second)
    for r in rates[:2]:
        print(f"{r.name}: {r.per_second / fastest.per_second:.0%} of {fastest.name}")
    print(f"outbox after the worker: {results['outbox_after_worker']}")
    if results["kill"]:
        print(f"kill -9: {results['kill']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mail", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5, help="200-owner notifications, one by one")
    parser.add_argument("--messages", type=int, default=200, help="3-owner notifications at once")
    parser.add_argument(
        "--threads", type=int, default=8, help="worker threads; baseline connections"
    )
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for a round")
    parser.add_argument("--no-kill", action="store_true", help="skip the kill -9 scenario")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1:
        parser.error("--messages and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load = report.warn_if_busy()
    with Sink() as sink:
        results = asyncio.run(run(args, sink))
    print_results(results)
    rates: list[Rate] = results["rates"]
    fastest = max(rates[2:], key=lambda r: r.per_second)
    figures = {
        "load_average_at_start": load,
        "notification": OutboxKind.REDEMPTION_REQUESTED,
        "rates": [
            {**asdict(r), "per_second": r.per_second, "cpu_ms_per_email": r.cpu_ms_per_email}
            for r in rates
        ],
        "fastest_baseline": fastest.name,
        "worker_over_fastest_baseline": [r.per_second / fastest.per_second for r in rates[:2]],
        "outbox_after_worker": results["outbox_after_worker"],
        "kill": results["kill"],
    }
    print(f"saved {report.save('mail', figures)}; worker log {WORKER_LOG}")


if __name__ == "__main__":
    main()
