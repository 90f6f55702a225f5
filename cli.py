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
    uvicorn.run(
        "app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        proxy_headers=True,
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
    print("sign in as an owner:   credits token --email ann@example.com --name 'Ann Owner'")
    print("or as a learner:       credits token --email priya@example.com --name 'Priya Shah'")
    print("or as support staff:   credits token --email support@example.com --name Sam --support")


def cmd_token(args: argparse.Namespace) -> None:
    from auth import mint_token

    print(mint_token(email=args.email, name=args.name, support=args.support))


def sdl() -> str:
    from schema.root import schema

    return schema.as_str() + "\n"


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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], None] = args.run
    try:
        run(args)
    except ConfigurationError as exc:
        print(f"credits: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


if __name__ == "__main__":
    main()
