"""The GraphQL API under load on PostgreSQL, next to the fastest this stack could be and
next to PostGraphile 4 on the same tables.

    python -m bench.api [--duration 10] [--rounds 2] [--warmup 2] [--clients 32]
                        [--redeem-clients 64] [--only balance,lots] [--profile] [--nice -10]

Needs `wrk` (`apt-get install wrk`) and, for the list scenarios, Node.js and npm
(PostGraphile is installed into bench/node/node_modules on first use).

One run: a throwaway database, migrated and seeded through the ledger (`bench.seed`);
the service started as production starts it (`credits serve`, ENVIRONMENT=production,
one worker, DB_POOL_SIZE=32, no embedded workers), the baseline (`bench.baseline`: bare
Starlette + asyncpg sending the service's own SQL) and PostGraphile 4 (one Node process,
`--schema public`) side by side. Each scenario runs `--duration` seconds against each
server, in alternating rounds so that noise from the rest of the machine falls on all
alike, with N keep-alive connections of `wrk` (`bench.load`); req/s, p50/p99 latency,
errors and CPU per request of the server's processes, PostgreSQL and wrk. SQL statements
per request are counted in-process (Tortoise's debug log) and compared with the
baseline's. After `redeem`, SQL checks that no account overspent.
Results: a table here and `bench/results/api.json`. `--profile` samples the service with
py-spy during its rounds (slower figures; stacks under `bench/results/profiles/`).
`--nice` raises the benchmark's priority on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from bench import api_report, integrity, pg, report, sqlcount
from bench import pyspy as spy
from bench.cpu import CpuProbe, prioritise, prioritised_session, process_tree
from bench.load import Load, Request, require_wrk, run_round
from bench.scenarios import Scenario, load_requests, page_shape, request_maker, scenarios
from bench.seed import Seed, seed
from bench.servers import Server, install_postgraphile, started
from settings import Settings, get_settings

SECRETS = {
    "JWT_SECRET": "zK0LalS3aCZDtdcl-N9-LVob1npTCif4NLgL6nroIKmAseUccSrV94dFiYwRVZth",
    "SECRET_KEY": "uMjXg1AscyNyOZIoaElWDO_5n2xam4WDdHHZErlEfTBuGYvU59OT4oNnlh5GA8K3",
}
POOL_SIZE = 32
POSTGRAPHILE_POOL = 10  # its default (--max-pool-size)


@dataclass
class Outcome:
    scenario: Scenario
    statements: list[str] = field(default_factory=list)
    baseline_statements: list[str] = field(default_factory=list)
    old_statements: list[str] = field(default_factory=list)  # the old baseline's
    loads: dict[str, Load] = field(default_factory=dict)
    spending: dict[str, integrity.Spending] = field(default_factory=dict)
    profile: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loads = {target: Load() for target in self.scenario.targets}

    def ratio(self, other: str) -> float | None:
        """The service's req/s ÷ `other`'s; None when `other` did not run or answered none."""
        load = self.loads.get(other)
        return self.loads["service"].rate / load.rate if load and load.rate else None

    def misses(self) -> list[str]:
        """The targets this outcome misses (empty: PASS)."""
        target, service = self.scenario.target, self.loads["service"]
        missed = []
        if target.min_ratio is not None and (self.ratio("baseline") or 0) < target.min_ratio:
            missed.append("baseline ratio")
        pgl = target.min_postgraphile_ratio
        if pgl is not None and (self.ratio("postgraphile") or 0) < pgl:
            missed.append("PostGraphile ratio")
        if target.max_p99_ms is not None and service.percentile_ms(0.99) >= target.max_p99_ms:
            missed.append("p99")
        if target.max_queries is not None and len(self.statements) > target.max_queries:
            missed.append("queries")
        if target.min_rate is not None and service.rate < target.min_rate:
            missed.append("rate")
        old = target.min_old_ratio
        if old is not None and (self.ratio("baseline-old") or 0) < old:
            missed.append("old baseline ratio")
        if service.errors or any(not s.zero_overspend for s in self.spending.values()):
            missed.append("errors or overspend")
        return missed


def production_env(url: str) -> dict[str, str]:
    return {
        **SECRETS,
        "ENVIRONMENT": "production",
        "DATABASE_URL": url,
        "EMBEDDED_WORKERS": "false",
        "DB_POOL_SIZE": str(POOL_SIZE),
    }


def service_settings(url: str) -> Settings:
    """The service's settings as `production_env` gives them (to mint its tokens)."""
    return Settings(
        environment="production",
        database_url=url,
        jwt_secret=SECRETS["JWT_SECRET"],
        secret_key=SECRETS["SECRET_KEY"],
        embedded_workers=False,
        db_pool_size=POOL_SIZE,
    )


async def count_statements(outcomes: list[Outcome], data: Seed, url: str) -> None:
    """One request of each scenario through the in-process service and baseline."""
    from app import create_app

    settings = service_settings(url)
    app = create_app(settings, manage_database=False)
    for outcome in outcomes:
        scenario = outcome.scenario
        request = request_maker(scenario, data, "service", settings, "count")(0)
        outcome.statements, answer = await sqlcount.service_statements(app, request)
        if not scenario.check.accepts(answer):
            raise RuntimeError(f"{scenario.name}: the service answered {answer[:500]!r}")
        body, _ = request_maker(scenario, data, "baseline", settings, "count")(0)
        sub = scenario.caller(data, 0).sub
        outcome.baseline_statements = await sqlcount.baseline_statements(
            pg.asyncpg_dsn(url), sub, scenario.path.strip("/"), body
        )
        if scenario.old_path:
            body, _ = request_maker(scenario, data, "baseline-old", settings, "count")(0)
            outcome.old_statements = await sqlcount.baseline_statements(
                pg.asyncpg_dsn(url), sub, scenario.old_path.strip("/"), body
            )


@dataclass(frozen=True)
class Bench:
    """One run's fixed parts. `admin` is opened before the servers fill their pools: on a
    shared PostgreSQL, a connection asked for later may find the server full."""

    args: argparse.Namespace
    url: str
    data: Seed
    servers: dict[str, Server]
    admin: asyncpg.Connection


async def backend_pids(admin: asyncpg.Connection) -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (every server's pool)."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return [int(row["pid"]) for row in rows]


async def warn_if_crowded(admin: asyncpg.Connection, names: tuple[str, ...]) -> None:
    """Say so when the PostgreSQL server, shared with other work, may run out of
    connections: a server whose pool cannot grow answers 500 ("too many clients")."""
    free = await admin.fetchval(
        "SELECT current_setting('max_connections')::int"
        " - current_setting('superuser_reserved_connections')::int - count(*)"
        " FROM pg_stat_activity WHERE backend_type = 'client backend'"
    )
    needed = sum(POSTGRAPHILE_POOL if name == "postgraphile" else POOL_SIZE for name in names)
    if free < needed:
        print(f"warning: PostgreSQL has {free} free connections and the servers' pools may"
              f" open {needed}: expect errors from a server that cannot grow its pool")  # fmt: skip


def watcher(bench: Bench, server: Server) -> Callable[[], Awaitable[CpuProbe]]:
    """What to watch once a round has warmed up: the server and the database's backends."""

    async def probe() -> CpuProbe:
        watch = CpuProbe(process_tree(server.pid), await backend_pids(bench.admin))
        if bench.args.nice:  # wrk, a child of this process, inherits its priority
            prioritise([os.getpid(), *watch.server_pids, *watch.postgres_pids], bench.args.nice)
        return watch

    return probe


def server_of(target: str) -> str:
    """The server a target runs on: the old statements are the baseline's /redeem-old."""
    return "baseline" if target == "baseline-old" else target


def endpoint(bench: Bench, target: str, scenario: Scenario) -> str:
    server = bench.servers[server_of(target)]
    if target == "baseline-old" and scenario.old_path:
        return server.base_url + scenario.old_path
    path = scenario.path if server.name == "baseline" else "/graphql"
    return server.base_url + path


async def one_round(
    bench: Bench, outcome: Outcome, target: str, requests: Callable[[str], list[Request]],
    round_: int,
) -> None:  # fmt: skip
    args, scenario, server = bench.args, outcome.scenario, bench.servers[server_of(target)]
    seconds = args.duration / args.rounds
    recorder = None
    if args.profile and target == "service":
        recorder = spy.record(server.pid, args.warmup, seconds, spy.raw_path(scenario.name, round_))
    load = await run_round(
        endpoint(bench, target, scenario), lambda run: requests(f"r{round_}{run}"),
        scenario.check,
        connections=scenario.clients, warmup=args.warmup, seconds=seconds,
        probe=watcher(bench, server),
    )  # fmt: skip
    outcome.loads[target].add(load)
    if recorder is not None:
        spy.wait(recorder)


async def check_answers(bench: Bench, scenario: Scenario) -> None:
    """Before a read's rounds, one request to each server: a good answer from each, and
    the same page (total and size) from each, PostGraphile's included."""
    settings, shapes = service_settings(bench.url), {}
    async with httpx.AsyncClient(timeout=30) as http:
        for target in scenario.targets:
            body, headers = request_maker(scenario, bench.data, target, settings, "check")(0)
            response = await http.post(
                endpoint(bench, target, scenario), content=body,
                headers={**headers, "content-type": "application/json"},
            )  # fmt: skip
            if response.status_code != 200 or not scenario.check.accepts(response.content):
                answer = f"{response.status_code} {response.text[:500]}"
                raise RuntimeError(f"{scenario.name}: {target} answered {answer}")
            shapes[target] = page_shape(response.content)
    if len(set(shapes.values())) > 1:
        raise RuntimeError(f"{scenario.name}: pages differ (totalCount, edges): {shapes}")


async def measure(bench: Bench, outcome: Outcome) -> None:
    """Alternating rounds, each server in turn, so that noise falls on all alike."""
    settings, scenario = service_settings(bench.url), outcome.scenario

    def requests_to(target: str) -> Callable[[str], list[Request]]:
        return lambda label: load_requests(scenario, bench.data, target, settings, label)

    if not scenario.as_input:  # a mutation's check would spend credits outside the count
        await check_answers(bench, scenario)
    for round_ in range(bench.args.rounds):
        for target in scenario.targets:
            await one_round(bench, outcome, target, requests_to(target), round_)
        print(f"  {scenario.name}: round {round_ + 1}/{bench.args.rounds}", flush=True)
    if scenario.name == "redeem":
        await check_spending(bench, outcome)


async def check_spending(bench: Bench, outcome: Outcome) -> None:
    # wrk drops the requests still in flight when a run ends: the server may approve them.
    cut_off = 2 * bench.args.rounds * outcome.scenario.clients
    for target in bench.data.redeem_account_ids:
        answered = outcome.loads[target].answered + 1  # and the in-process counting request
        account_id = bench.data.redeem_account_ids[target]
        outcome.spending[target] = await integrity.spending(
            bench.admin, account_id, answered, cut_off
        )


async def run(args: argparse.Namespace) -> list[Outcome]:
    chosen = [s for s in scenarios(args.clients, args.redeem_clients) if s.name in args.only]
    outcomes = [Outcome(scenario) for scenario in chosen]
    require_wrk()  # before seeding: say what is missing first
    if any(s.postgraphile_query for s in chosen):
        install_postgraphile()
    with prioritised_session(args.nice) if args.nice else nullcontext():
        await measure_all(outcomes, args)
    if args.profile:
        for outcome in outcomes:
            outcome.profile = spy.summarise(spy.raw_paths(outcome.scenario.name, args.rounds))
    return outcomes


async def prepare(outcomes: list[Outcome], args: argparse.Namespace, url: str) -> Seed:
    async with pg.tortoise_on(url):
        started = time.perf_counter()
        data = await seed(args.redeem_clients)
        await count_statements(outcomes, data, url)
    print(f"seeded and counted in {time.perf_counter() - started:.1f} s", flush=True)
    return data


async def measure_all(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    async with pg.throwaway_database("credits_bench_api") as url:
        data = await prepare(outcomes, args, url)
        admin = await asyncpg.connect(pg.asyncpg_dsn(url))
        try:
            names = tuple(dict.fromkeys(server_of(t) for o in outcomes for t in o.scenario.targets))
            await warn_if_crowded(admin, names)
            with (
                tempfile.TemporaryDirectory(prefix="bench-api-") as logs,
                started(names, production_env(url), pg.asyncpg_dsn(url), Path(logs)) as servers,
            ):
                bench = Bench(args, url, data, servers, admin)
                for outcome in outcomes:
                    await measure(bench, outcome)
        finally:
            await admin.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--duration", type=float, default=10, help="measured s per server")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per scenario")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured s per round")
    parser.add_argument(
        "--clients", type=int, default=32, help="wrk connections of the read scenarios"
    )
    parser.add_argument("--redeem-clients", type=int, default=64, help="wrk connections")
    parser.add_argument("--only", default="balance,lots,redemptions,redeem")
    parser.add_argument("--profile", action="store_true", help="py-spy the service's rounds")
    parser.add_argument(
        "--nice", type=int, default=0,
        help="renice the load generator, the servers and their PostgreSQL backends to this"
        " (e.g. -10, needs root) so that other work on a shared machine disturbs less",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.update(SECRETS)  # the seeding process hashes codes with the service's key
    get_settings.cache_clear()
    outcomes = asyncio.run(run(args))
    api_report.print_results(outcomes)
    # A profiled run is slower: its figures go to their own file, not over the real ones.
    name = "api-profiled" if args.profile else "api"
    saved = report.save(name, api_report.figures(outcomes, vars(args), POOL_SIZE))
    print(f"\nsaved {saved}")


if __name__ == "__main__":
    main()
