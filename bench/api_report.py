"""The API benchmark's table, CPU breakdown, overspend check and JSON figures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench import integrity, report, sqlcount
from bench.load import Load

if TYPE_CHECKING:
    from bench.api import Outcome


NAMES = {
    "service": "service", "baseline": "baseline", "baseline-old": "baseline, old SQL",
    "postgraphile": "PostGraphile",
}  # fmt: skip
LOAD_HEADERS = [
    "scenario", "server", "conns", "req/s", "p50 ms", "p99 ms", "errors", "server CPU",
    "PostgreSQL CPU", "wrk CPU", "rest",
]  # fmt: skip
RATIO_HEADERS = [
    "scenario", "service/baseline", "service/PostGraphile", "service/old baseline", "SQL/req",
    "target", "result",
]  # fmt: skip


def load_rows(outcomes: list[Outcome]) -> list[list[object]]:
    """One row per scenario and server; CPU in ms per request over the measured windows."""
    table: list[list[object]] = []
    for o in outcomes:
        for target, load in o.loads.items():
            cpu = load.cpu_ms_per_request()
            costs = [cpu[k] for k in ("server", "postgres", "client", "other")]
            latency = [load.percentile_ms(0.5), load.percentile_ms(0.99)]
            table.append([
                o.scenario.name, NAMES[target], o.scenario.clients, load.rate,
                *(latency if load.requests else ["-"] * 2), load.errors,
                *(costs if load.requests else ["-"] * 4),
            ])  # fmt: skip
    return table


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _statements(o: Outcome) -> str:
    """The service's statements per request; the old baseline's too, where it ran."""
    old = f" (old {len(o.old_statements)})" if o.old_statements else ""
    return f"{len(o.statements)}{old}"


def ratio_rows(outcomes: list[Outcome]) -> list[list[object]]:
    table: list[list[object]] = []
    for o in outcomes:
        verdict = "MISS: " + ", ".join(o.misses()) if o.misses() else "PASS"
        table.append([
            o.scenario.name, _ratio(o.ratio("baseline")), _ratio(o.ratio("postgraphile")),
            _ratio(o.ratio("baseline-old")), _statements(o), o.scenario.target.describe(),
            verdict,
        ])  # fmt: skip
    return table


def spending_line(target: str, spent: integrity.Spending) -> str:
    return (
        f"redeem ({target}): {spent.approvals:,} approved ({spent.approved:,} credits), drawn"
        f" {spent.drawn:,}, taken from lots {spent.taken:,}, in the ledger {spent.entries:,};"
        f" lowest balance {spent.lowest_balance:,}; zero overspend: {spent.zero_overspend};"
        f" every approval answered: {spent.all_answered}"
    )


def print_results(outcomes: list[Outcome]) -> None:
    print()
    print("Each server under wrk; CPU in ms per request over the measured windows:")
    print(report.table(LOAD_HEADERS, load_rows(outcomes)))
    print()
    print(report.table(RATIO_HEADERS, ratio_rows(outcomes)))
    for o in outcomes:
        for target, spent in o.spending.items():
            print(spending_line(target, spent))
        if not sqlcount.same_sql(o.statements, o.baseline_statements):
            print(f"warning: {o.scenario.name}: the baseline's SQL differs from the service's")
    if any("postgraphile" in o.loads for o in outcomes):
        print(
            "PostGraphile answers the same selections from its own schema of the tables:"
            " no token check, no lot `status`, the account chosen by a `condition`."
        )
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
                "ratio": o.ratio("baseline"), "postgraphile_ratio": o.ratio("postgraphile"),
                "old_baseline_ratio": o.ratio("baseline-old"),
                "queries_per_request": len(o.statements),
                "old_queries_per_request": len(o.old_statements),
                "same_sql_as_baseline": sqlcount.same_sql(o.statements, o.baseline_statements),
                "statements": o.statements,
                **{target: load_figures(load) for target, load in o.loads.items()},
                "spending": {t: s.as_dict() for t, s in o.spending.items()},
                "profile": o.profile,
            }
            for o in outcomes
        ],
    }  # fmt: skip
