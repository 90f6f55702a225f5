"""Emails per second from one `credits worker` process to a loopback SMTP sink.

    python -m bench.mail [--messages 1000] [--threads 8]

The notification measured is `redemption_approved`, the one every redemption causes:
one outbox message becomes three emails (the learner, and a copy to each of the
account's two owners). The benchmark's own database holds one account made through the
ledger (two owners, a purchase, a course, one approved redemption) and `--messages`
outbox rows for that approval; one worker process relays them through a private
redis-server and delivers them. The rate counts from the first to the last email the
sink accepted.

Baselines in the same run, to the same sink, with the same composed emails and no
database or broker: one aiosmtplib connection reused for every email (the fastest this
stack sends from one process), several connections reused at once, and the worker's own
transport (`SmtpTransport`, which keeps a few connections open between emails) as many
at a time as the worker has threads.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from tortoise import connections

from bench import pg, report
from bench.services import Worker, redis_server
from bench.sink import Sink
from ledger import events
from ledger.accounts import add_owner, create_account, display_code
from ledger.actors import Actor
from ledger.purchases import purchase_credits
from ledger.redemptions import redeem_credits
from ledger.users import sign_in
from models import ApprovalMode, Course, OutboxMessage
from notifications import build_emails
from settings import get_settings
from workers.mail import compose, deliver
from workers.transport import SmtpTransport

EMAILS_PER_MESSAGE = 3  # the learner and two owners
WORKER_LOG = report.RESULTS / "mail-worker.log"


@dataclass
class Rate:
    name: str
    emails: int
    seconds: float  # first to last accepted email
    extra: dict[str, Any]

    @property
    def per_second(self) -> float:
        # n emails accepted over the span between the first and the last: n - 1 intervals.
        return (self.emails - 1) / self.seconds if self.seconds > 0 else 0.0


async def approved_redemption() -> int:
    """An account made through the ledger, with one approved redemption; its outbox row."""
    ann = Actor(user=await sign_in(sub="ann", email="ann@example.com", name="Ann Owner"))
    account = await create_account(
        actor=ann, name="Data team", approval_mode=ApprovalMode.AUTOMATIC
    )
    await add_owner(actor=ann, account_id=account.id, email="bob@example.com")
    await purchase_credits(
        actor=ann, account_id=account.id, credits=20_000, payment_token="tok_visa",
        idempotency_key="bench-purchase",
    )  # fmt: skip
    now = account.created_at
    course = await Course.create(
        sku="JIRA-101", title="Jira Fundamentals", price_credits=150, created_at=now, updated_at=now
    )
    lee = Actor(user=await sign_in(sub="lee", email="lee@example.com", name="Lee Learner"))
    await redeem_credits(
        actor=lee, code=display_code(account), course_id=course.id, idempotency_key="bench-redeem"
    )
    message = await OutboxMessage.get(kind=events.REDEMPTION_APPROVED)
    return int(message.id)


async def queue_copies(template_id: int, count: int) -> list[int]:
    """Everything so far counts as delivered; then `count` fresh rows like the template."""
    conn = connections.get("default")
    await conn.execute_query(
        "UPDATE outbox_message SET dispatched_at = now(), delivered_at = now()"
        " WHERE delivered_at IS NULL"
    )
    rows = await conn.execute_query_dict(
        "INSERT INTO outbox_message (kind, payload, created_at, attempts)"
        " SELECT kind, payload, created_at, 0 FROM outbox_message, generate_series(1, $2)"
        " WHERE id = $1 RETURNING id",
        [template_id, count],
    )
    return [int(r["id"]) for r in rows]


async def composed_emails(message_id: int) -> list[EmailMessage]:
    settings = get_settings()
    message = await OutboxMessage.get(id=message_id)
    emails = await build_emails(message, settings=settings)
    if len(emails) != EMAILS_PER_MESSAGE:
        raise RuntimeError(f"expected {EMAILS_PER_MESSAGE} emails, built {len(emails)}")
    return [compose(e, outbox_id=message.id, sender=settings.mail_from) for e in emails]


async def outbox_state() -> dict[str, int]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT count(*) FILTER (WHERE delivered_at IS NULL) AS undelivered,"
        " count(*) FILTER (WHERE attempts > 1) AS retried,"
        " (SELECT count(*) FROM email_delivery) AS deliveries FROM outbox_message"
    )
    return {k: int(v) for k, v in rows[0].items()}


def measure_worker(sink: Sink, db_url: str, emails: int, threads: int, timeout: float) -> Rate:
    sink.counters.reset()
    with redis_server() as redis_url:
        env = {
            "DATABASE_URL": db_url, "REDIS_URL": redis_url, "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(sink.port), "OUTBOX_POLL_SECONDS": "0.1",
        }  # fmt: skip
        with Worker(env, WORKER_LOG, threads=threads) as worker:
            done = sink.wait_for(emails, timeout=timeout, alive=worker.alive)
    count, first, last = sink.counters.snapshot()
    if not done:
        raise RuntimeError(f"the worker delivered {count:,} of {emails:,}; see {WORKER_LOG}")
    extra = {
        "threads": threads,
        "start_to_last_seconds": last - worker.started_at,
        "worker_cpu_seconds": worker.cpu_seconds,
    }
    return Rate(f"credits worker (1 process, {threads} threads)", count, last - first, extra)


async def measure_in_process(sink: Sink, ids: list[int], at_once: int) -> Rate:
    """`workers.mail.deliver` itself, `at_once` at a time, on this process's loop."""
    settings = get_settings().model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": sink.port})
    gate = asyncio.Semaphore(at_once)

    async def one(message_id: int) -> None:
        async with gate:
            await deliver(message_id, settings=settings)

    sink.counters.reset()
    await asyncio.gather(*(one(i) for i in ids))
    count, first, last = sink.counters.snapshot()
    name = f"workers.mail.deliver, {at_once} at once (no broker, no relay)"
    return Rate(name, count, last - first, {})


async def reuse_connections(port: int, emails: list[EmailMessage], connections: int) -> None:
    async def sender(share: list[EmailMessage]) -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            for message in share:
                await smtp.send_message(message)

    await asyncio.gather(*(sender(emails[i::connections]) for i in range(connections)))


async def through_transport(port: int, emails: list[EmailMessage], at_once: int) -> None:
    transport = SmtpTransport(host="127.0.0.1", port=port)
    gate = asyncio.Semaphore(at_once)

    async def send(message: EmailMessage) -> None:
        async with gate:
            await transport.send(message)

    await asyncio.gather(*(send(m) for m in emails))


async def measure_baseline(
    sink: Sink, name: str, send: Callable[[], Awaitable[None]], emails: int
) -> Rate:
    sink.counters.reset()
    await send()
    if not await asyncio.to_thread(sink.wait_for, emails, timeout=30):
        raise RuntimeError(f"{name}: the sink accepted {sink.counters.snapshot()[0]} of {emails}")
    count, first, last = sink.counters.snapshot()
    return Rate(name, count, last - first, {})


async def baselines(sink: Sink, emails: list[EmailMessage], threads: int) -> list[Rate]:
    port, n = sink.port, len(emails)
    runs: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("aiosmtplib, 1 connection reused", lambda: reuse_connections(port, emails, 1)),
        (
            f"aiosmtplib, {threads} connections reused",
            lambda: reuse_connections(port, emails, threads),
        ),
        (
            f"SmtpTransport (the worker's, connections reused), {threads} at once",
            lambda: through_transport(port, emails, threads),
        ),
    ]
    return [await measure_baseline(sink, name, send, n) for name, send in runs]


async def run(args: argparse.Namespace, sink: Sink) -> tuple[list[Rate], dict[str, int]]:
    """The worker, then `deliver` in this process, then the baselines: one list of rates."""
    emails = args.messages * EMAILS_PER_MESSAGE
    async with pg.throwaway_database("credits_bench_mail") as url:
        async with pg.tortoise_on(url):
            template = await approved_redemption()
            one_message = await composed_emails(template)
            await queue_copies(template, args.messages)
        print(f"{args.messages:,} outbox messages ({emails:,} emails) queued; worker starting …")
        worker = await asyncio.to_thread(
            measure_worker, sink, url, emails, args.threads, args.timeout
        )
        print("deliver() in-process, then the baselines …", flush=True)
        async with pg.tortoise_on(url):
            state = await outbox_state()
            ids = await queue_copies(template, args.messages)
            in_process = await measure_in_process(sink, ids, args.threads)
    same_emails = [one_message[i % len(one_message)] for i in range(emails)]
    return [worker, in_process, *await baselines(sink, same_emails, args.threads)], state


def print_rates(rates: list[Rate], state: dict[str, int]) -> None:
    worker, in_process, *base = rates
    print()
    print(report.table(
        ["sender", "emails", "seconds", "emails/s"],
        [[r.name, r.emails, r.seconds, r.per_second] for r in rates],
    ))  # fmt: skip
    fastest = max(base, key=lambda r: r.per_second)
    cpu = worker.extra["worker_cpu_seconds"]
    print(
        f"\nworker / fastest baseline ({fastest.name}):"
        f" {worker.per_second / fastest.per_second:.2f}"
        f"\nworker / deliver() in-process: {worker.per_second / in_process.per_second:.2f}"
        f"\nworker: {worker.extra['start_to_last_seconds']:.1f} s from process start to the last"
        f" email; {cpu:.1f} s of worker CPU ({1000 * cpu / worker.emails:.2f} ms per email,"
        " start-up included)"
        f"\noutbox after the worker: {state}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.mail", description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000, help="outbox messages to deliver")
    parser.add_argument(
        "--threads", type=int, default=8, help="worker threads (and the baselines' concurrency)"
    )
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for it")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load = report.warn_if_busy()
    with Sink() as sink:
        rates, state = asyncio.run(run(args, sink))
    print_rates(rates, state)
    worker, in_process, *base = rates
    fastest = max(base, key=lambda r: r.per_second)
    figures = {
        "load_average_at_start": load,
        "notification": events.REDEMPTION_APPROVED,
        "messages": args.messages,
        "emails_per_message": EMAILS_PER_MESSAGE,
        "rates": [{**asdict(r), "per_second": r.per_second} for r in rates],
        "worker_over_fastest_baseline": worker.per_second / fastest.per_second,
        "worker_over_deliver_in_process": worker.per_second / in_process.per_second,
        "outbox_after_worker": state,
    }
    print(f"saved {report.save('mail', figures)}; worker log {WORKER_LOG}")


if __name__ == "__main__":
    main()
