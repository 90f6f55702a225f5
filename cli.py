"""`credits`: run the service, its worker and scheduler, and the operator's one-off jobs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from settings import ConfigurationError, get_settings, tortoise_config

log = logging.getLogger("credits.cli")
SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "schema.graphql"


async def apply_migrations() -> None:
    from tortoise import Tortoise
    from tortoise.migrations.api.migrate import migrate

    try:
        await migrate(config=tortoise_config())
    finally:
        await Tortoise.close_connections()


def cmd_migrate(args: argparse.Namespace) -> None:
    asyncio.run(apply_migrations())
    print("migrations applied")


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = get_settings()
    settings.check()
    if not settings.is_production or args.migrate:
        asyncio.run(apply_migrations())
    if args.workers > 1 and not settings.effective_database_url.startswith("postgres"):
        raise ConfigurationError(
            "--workers needs PostgreSQL: a SQLite file serves one process (DATABASE_URL)"
        )
    if args.workers > 1:
        from observability import prepare_multiprocess_metrics

        prepare_multiprocess_metrics()  # /metrics then sums every process
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        log_config=None,
        # X-Forwarded-For / -Proto are believed only from the proxies named here.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


async def _with_database(work: Callable[[], Awaitable[str]]) -> str:
    from tortoise import Tortoise

    await apply_migrations()
    await Tortoise.init(config=tortoise_config(), _enable_global_fallback=True)
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


def cmd_demo(args: argparse.Namespace) -> None:
    from ledger.demo import load_demo

    print(asyncio.run(_with_database(load_demo)))


def cmd_worker(args: argparse.Namespace) -> None:
    """Run dramatiq workers (Redis broker) with this project's actors."""
    from dramatiq.cli import main as dramatiq_main

    settings = get_settings()
    settings.check()
    if not settings.redis_url:
        raise ConfigurationError(
            "credits worker needs REDIS_URL; without it `credits serve` delivers in-process"
        )
    sys.argv = [
        "dramatiq",
        "workers.worker",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    raise SystemExit(dramatiq_main())  # type: ignore[no-untyped-call]


def cmd_scheduler(args: argparse.Namespace) -> None:
    asyncio.run(_run_scheduler())


async def _run_scheduler() -> None:
    import signal
    import socket

    from tortoise import Tortoise

    from workers.dispatch import BrokerDispatcher, InProcessDispatcher
    from workers.scheduler import build_scheduler, tick_lock

    settings = get_settings()
    settings.check()
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
    dispatcher = BrokerDispatcher(settings) if settings.redis_url else InProcessDispatcher(settings)
    scheduler = build_scheduler(settings, dispatcher, tick_lock(settings, socket.gethostname()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    log.info(
        "scheduler running: expiry %r, reminders %r", settings.expiry_cron, settings.reminders_cron
    )
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        if isinstance(dispatcher, InProcessDispatcher):
            await dispatcher.drain()
        await Tortoise.close_connections()


def cmd_expire_now(args: argparse.Namespace) -> None:
    from ledger.expiry import expire_due_lots

    async def run() -> str:
        result = await expire_due_lots()
        return f"expired {result.lots} lots ({result.credits} credits)"

    print(asyncio.run(_with_database(run)))


def cmd_send_reminders(args: argparse.Namespace) -> None:
    from ledger.expiry import send_expiry_reminders

    async def run() -> str:
        result = await send_expiry_reminders()
        return f"queued {result.messages} reminders for {result.lots} lots"

    print(asyncio.run(_with_database(run)))


def cmd_outbox(args: argparse.Namespace) -> None:
    """List notifications not yet delivered, failed ones first; `--retry` sends the
    failed ones again."""
    from ledger.outbox import list_undelivered, retry_failed

    async def run() -> str:
        if args.retry:
            return f"{await retry_failed()} failed notifications queued again"
        return await list_undelivered(limit=args.limit)

    print(asyncio.run(_with_database(run)))


def cmd_token(args: argparse.Namespace) -> None:
    from auth import mint_token

    print(mint_token(email=args.email, name=args.name, support=args.support))


def sdl() -> str:
    from schema.root import build_schema

    return build_schema(get_settings()).as_str() + "\n"


def cmd_export_schema(args: argparse.Namespace) -> None:
    target = Path(args.output) if args.output else SCHEMA_FILE
    target.write_text(sdl(), encoding="utf-8")
    print(f"wrote {target}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="credits", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the GraphQL service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--migrate", action="store_true", help="apply migrations in production too")
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="create or upgrade the database").set_defaults(
        run=cmd_migrate
    )

    commands.add_parser("demo", help="load sample data to look at").set_defaults(run=cmd_demo)

    worker = commands.add_parser("worker", help="run the workers (needs REDIS_URL)")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument("--threads", type=int, default=4)
    worker.set_defaults(run=cmd_worker)
    commands.add_parser("scheduler", help="send the nightly jobs on schedule").set_defaults(
        run=cmd_scheduler
    )
    outbox = commands.add_parser("outbox", help="list notifications not yet delivered")
    outbox.add_argument("--limit", type=int, default=50)
    outbox.add_argument(
        "--retry", action="store_true", help="send the notifications that failed for good again"
    )
    outbox.set_defaults(run=cmd_outbox)
    commands.add_parser(
        "expire-now", help="run the expiry job here, now, with this process's clock"
    ).set_defaults(run=cmd_expire_now)
    commands.add_parser("send-reminders", help="queue the expiry reminders here, now").set_defaults(
        run=cmd_send_reminders
    )

    token = commands.add_parser("token", help="print a development token")
    token.add_argument("--email", required=True)
    token.add_argument("--name", required=True)
    token.add_argument("--support", action="store_true", help="grant the support role")
    token.set_defaults(run=cmd_token)

    export = commands.add_parser("export-schema", help="write schema/schema.graphql")
    export.add_argument("--output", help="another file to write instead")
    export.set_defaults(run=cmd_export_schema)
    return parser


def main(argv: list[str] | None = None) -> None:
    from observability import configure_logging

    settings = get_settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except ConfigurationError as exc:
        print(f"credits: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
