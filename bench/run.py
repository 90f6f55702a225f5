"""Every benchmark, one after the other, then one summary table against the targets.

    python -m bench.run [--quick] [--only api,expiry,mail,exports]

Runs `bench.api`, `bench.expiry`, `bench.mail` and `bench.exports` with their default
sizes (about 12 minutes on 2 vCPUs), each printing its own tables and saving its JSON
under `bench/results/`; then reads those files back and prints what each figure is
compared with, in the same run: the API's bare Starlette + asyncpg baseline, the expiry
job with twice the not-due lots, aiosmtplib sending alone, the export server at idle.
The summary is saved as `bench/results/report.json`. `--quick` runs everything small: a
smoke test of the benchmarks, not figures to quote.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from bench import api, expiry, exports, mail, report

QUICK = {
    "api": ["--duration", "2", "--rounds", "1", "--warmup", "0.5"],
    "expiry": ["--lots", "20000", "--due", "2000", "--accounts", "200"],
    "mail": ["--rounds", "1", "--messages", "50"],
    "exports": ["--rows", "20000", "--xlsx-rows", "5000", "--small", "2000"],
}
BENCHES: dict[str, Callable[[list[str]], None]] = {
    "api": api.main,
    "expiry": expiry.main,
    "mail": mail.main,
    "exports": exports.main,
}
Row = list[object]


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((report.RESULTS / f"{name}.json").read_text()))


def _api_rows(figures: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for s in figures["scenarios"]:
        service, baseline, pgl = s["service"], s["baseline"], s.get("postgraphile")
        compared = f"{baseline['rate']:,.0f} req/s (bare baseline)"
        ratio = f"{s['ratio'] or 0:.0%} of baseline"
        if pgl is not None:
            compared += f"; {pgl['rate']:,.0f} req/s (PostGraphile)"
            ratio += f"; {s['postgraphile_ratio'] or 0:.2f}x PostGraphile"
        rows.append([
            f"api {s['name']}", f"{service['rate']:,.0f} req/s, p99 {service['p99_ms']:,.0f} ms,"
            f" {s['queries_per_request']} SQL", compared, ratio, s["target"],
            "met" if not s["result"] else "MISS: " + ", ".join(s["result"]),
        ])  # fmt: skip
    return rows


def _expiry_rows(figures: dict[str, Any]) -> list[Row]:
    base, doubled = (c["job"] for c in figures["cases"])
    flat = figures["rows_read_ratio"] <= 1.1
    return [[
        "expiry job", f"{base['seconds']:.1f} s for {base['lots_expired']:,} due lots,"
        f" {base['messages']:,} messages", f"{doubled['seconds']:.1f} s with not-due x2",
        f"x{figures['job_time_ratio']:.2f} time, x{figures['rows_read_ratio']:.2f} rows",
        "flat when not-due lots double", "met" if flat else "MISS: grows",
    ]]  # fmt: skip


def _mail_rows(figures: dict[str, Any]) -> list[Row]:
    rates, kill = figures["rates"], figures.get("kill")
    fastest = max(rates[2:], key=lambda r: r["per_second"])
    rows: list[Row] = []
    for worker, ratio in zip(rates[:2], figures["worker_over_fastest_baseline"], strict=True):
        result = "met" if worker["per_second"] >= 300 and not worker["duplicates"] else "MISS"
        rows.append([
            f"mail {worker['name'].removeprefix('worker: ')}",
            f"{worker['per_second']:,.0f} emails/s, {worker['cpu_ms_per_email']:.2f} ms CPU",
            f"{fastest['per_second']:,.0f}/s (bare aiosmtplib)", f"{ratio:.0%}",
            ">= 300 emails/s, no duplicates", result,
        ])  # fmt: skip
    if kill:
        rows.append([
            "mail kill -9", f"{kill['lost']} lost, {kill['duplicates']} duplicates",
            f"{kill['expected']} expected", "-", "zero of each",
            "met" if not kill["lost"] and not kill["duplicates"] else "MISS",
        ])  # fmt: skip
    return rows


def _exports_rows(figures: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    by_format: dict[str, list[dict[str, Any]]] = {}
    for r in figures["results"]:
        by_format.setdefault(r["format"], []).append(r)
    for fmt, pair in sorted(by_format.items()):
        small, large = sorted(pair, key=lambda r: r["rows"])
        growth = large["peak_rss_mb"] - small["peak_rss_mb"]
        rows.append([
            f"export {fmt}", f"peak {large['peak_rss_mb']:.0f} MB for {large['rows']:,} rows",
            f"{small['peak_rss_mb']:.0f} MB for {small['rows']:,}; idle"
            f" {large['idle_rss_mb']:.0f} MB", f"{growth:+.0f} MB",
            "memory bounded by rows", "met" if growth < 32 else "MISS: grows",
        ])  # fmt: skip
    return rows


SUMMARIES: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "api": _api_rows,
    "expiry": _expiry_rows,
    "mail": _mail_rows,
    "exports": _exports_rows,
}


def summary(names: list[str], *, quick: bool = False) -> list[Row]:
    rows = [row for name in names for row in SUMMARIES[name](_load(name))]
    if quick:  # small sizes say whether the benchmarks run, not whether targets are met
        rows = [[*row[:-1], "(quick: not judged)"] for row in rows]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", default=",".join(BENCHES), help="which, comma-separated")
    args = parser.parse_args(argv)
    names = [name for name in args.only.split(",") if name]
    unknown = sorted(set(names) - set(BENCHES))
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(unknown)}")
    for name in names:
        print(f"=== bench.{name} ===", flush=True)
        BENCHES[name](QUICK[name] if args.quick else [])
        print()
    rows = summary(names, quick=args.quick)
    headers = ["benchmark", "figure", "compared with", "ratio", "target", "result"]
    print("=== summary ===")
    print(report.table(headers, rows))
    saved = report.save(
        "report",
        {"quick": args.quick, "rows": [dict(zip(headers, row, strict=True)) for row in rows]},
    )
    print(f"\nsaved {saved}")


if __name__ == "__main__":
    main()
