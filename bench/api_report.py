"""The API benchmark's table, CPU breakdown, overspend check and JSON figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench import integrity, report, sqlcount
from bench.load import Load
from bench.seed import TARGETS

if TYPE_CHECKING:
    from bench.api import Outcome


def rows(outcomes: list[Outcome]) -> list[list[object]]:
    table = []
    for o in outcomes:
        service, base = o.loads["service"], o.loads["baseline"]
        verdict = "MISS: " + ", ".join(o.misses()) if o.misses() else "PASS"
        table.append([
            o.scenario.name, o.scenario.clients, service.rate, base.rate, f"{o.ratio:.0%}",
            service.percentile_ms(0.5), service.percentile_ms(0.99), base.percentile_ms(0.99),
            len(o.statements), service.errors + base.errors, o.scenario.target.describe(),
            verdict,
        ])  # fmt: skip
    return table


def cpu_rows(outcomes: list[Outcome]) -> list[list[object]]:
    table = []
    for o in outcomes:
        for target in TARGETS:
            load = o.loads[target]
            cpu = load.cpu_ms_per_request()
            values = [cpu[k] for k in ("server", "postgres", "client", "other")]
            table.append([o.scenario.name, target, *(values if load.requests else ["-"] * 4)])
    return table


HEADERS = [
    "scenario", "clients", "service req/s", "baseline req/s", "ratio", "p50 ms", "p99 ms",
    "base p99 ms", "SQL/req", "errors", "target", "result",
]  # fmt: skip


def spending_line(target: str, spent: integrity.Spending) -> str:
    return (
        f"redeem ({target}): {spent.approvals:,} approved ({spent.approved:,} credits), drawn"
        f" {spent.drawn:,}, taken from lots {spent.taken:,}, in the ledger {spent.entries:,};"
        f" lowest balance {spent.lowest_balance:,}; zero overspend: {spent.zero_overspend};"
        f" every approval answered: {spent.all_answered}"
    )


def print_results(outcomes: list[Outcome]) -> None:
    print()
    print(report.table(HEADERS, rows(outcomes)))
    print("\nCPU per request (ms), over the measured windows:")
    cpu_headers = ["scenario", "server", "server CPU", "PostgreSQL", "load generator", "rest"]
    print(report.table(cpu_headers, cpu_rows(outcomes)))
    for o in outcomes:
        for target, spent in o.spending.items():
            print(spending_line(target, spent))
        if not sqlcount.same_sql(o.statements, o.baseline_statements):
            print(f"warning: {o.scenario.name}: the baseline's SQL differs from the service's")
    print_profile(outcomes)


def print_profile(outcomes: list[Outcome]) -> None:
    """py-spy's shares of the service's samples, one column per scenario."""
    profiled = [o for o in outcomes if o.profile]
    if not profiled:
        return
    keys = [k for k in profiled[0].profile if k != "samples"]
    keys += sorted({k for o in profiled for k in o.profile} - {"samples", *keys})
    rows = [[key, *(f"{o.profile.get(key, 0.0):.1%}" for o in profiled)] for key in keys]
    print("\nWhere the service's CPU went (py-spy samples; layer: innermost, in: inclusive):")
    print(report.table(["share of samples", *(o.scenario.name for o in profiled)], rows))


def load_figures(load: Load) -> dict[str, Any]:
    return {
        "requests": load.requests, "seconds": load.seconds, "rate": load.rate,
        "p50_ms": load.percentile_ms(0.5), "p90_ms": load.percentile_ms(0.9),
        "p99_ms": load.percentile_ms(0.99), "errors": load.errors,
        "cpu_ms_per_request": load.cpu_ms_per_request(),
    }  # fmt: skip


def figures(outcomes: list[Outcome], options: dict[str, Any], pool_size: int) -> dict[str, Any]:
    return {
        "settings": {**options, "pool_size": pool_size, "environment": "production"},
        "scenarios": [
            {
                "name": o.scenario.name, "clients": o.scenario.clients,
                "target": o.scenario.target.describe(), "result": o.misses() or "PASS",
                "ratio": o.ratio, "queries_per_request": len(o.statements),
                "same_sql_as_baseline": sqlcount.same_sql(o.statements, o.baseline_statements),
                "statements": o.statements,
                **{target: load_figures(o.loads[target]) for target in TARGETS},
                "spending": {t: s.as_dict() for t, s in o.spending.items()},
                "profile": o.profile,
            }
            for o in outcomes
        ],
    }  # fmt: skip
