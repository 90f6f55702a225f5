"""Export memory: the server's peak RSS while streaming 100,000 and 1,000,000 transactions.

    python -m bench.exports [--rows 1000000] [--xlsx-rows 200000] [--small 100000]

One throwaway PostgreSQL database holds one account per size. For each format and size,
a fresh `uvicorn` server process (production settings) streams
`/exports/transactions.<format>` to a client that counts the bytes; the server's peak
resident memory (VmHWM) is read from /proc when the download ends. The comparison in the
same run: the server idle after start-up, and the small export, against the large one.
Bounded memory means the large export's peak is close to the small one's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import asyncpg
import httpx

from auth import mint_token
from bench.pg import asyncpg_dsn, throwaway_database
from bench.report import save, table
from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SECRET = "6GhjChQvEFu7uu27nXh7WJbu4bBbHNYnjKwHoXBUQfqkgtXDVsZzx-k13ZtY5wX-"


@dataclass
class Result:
    format: str
    rows: int
    seconds: float
    megabytes_out: float
    idle_rss_mb: float
    peak_rss_mb: float


async def seed(url: str, rows: int, email: str) -> int:
    """An account owned by `email` with `rows` ledger entries."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        user = await conn.fetchval(
            'INSERT INTO "user"(sub, email, name, created_at)'
            " VALUES ('local|' || $1, $1, 'Owner', now()) RETURNING id",
            email,
        )
        account = await conn.fetchval(
            "INSERT INTO account(name, approval_mode, code_hash, code_ciphertext, created_at,"
            " created_by_id) VALUES ('Bench', 'AUTOMATIC', $2, 'x', now(), $1) RETURNING id",
            user,
            email,
        )
        await conn.execute(
            "INSERT INTO ownership(account_id, user_id, created_at) VALUES ($1, $2, now())",
            account,
            user,
        )
        lot = await conn.fetchval(
            "INSERT INTO lot(account_id, credits, remaining, purchased_at, expires_at, created_at)"
            " VALUES ($1, $2, $2, now(), now() + interval '1 year', now()) RETURNING id",
            account,
            rows,
        )
        await conn.execute(
            "INSERT INTO ledger_entry(account_id, lot_id, kind, credits, balance_after, actor_id,"
            " reason, reference, created_at)"
            " SELECT $1, $2, 'PURCHASE', 1, g, $3, 'bench row', 'INV-' || g,"
            " now() - ($4 - g) * interval '1 second' FROM generate_series(1, $4) AS g",
            account,
            lot,
            user,
            rows,
        )
        await conn.execute("ANALYZE")
        return int(account)
    finally:
        await conn.close()


def _rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "ENVIRONMENT": "production",
        "DATABASE_URL": url,
        "JWT_SECRET": SECRET,
        "SECRET_KEY": "lBqjblNu8Glsyg9Ngzou4KlfmP1mgOsPFloNGgDQzilOYmPUKtQtGpWua1vqc8HI",
        "EMBEDDED_WORKERS": "false",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - one server per measurement
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"{base}/readyz")).status_code == 200:
                    return process, base
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start")


async def measure(url: str, fmt: str, rows: int) -> Result:
    process, base = await _start_server(url)
    try:
        idle = _rss_mb(process.pid, "VmRSS")
        token = mint_token(
            email=f"owner{rows}@example.com", name="Owner", settings=Settings(jwt_secret=SECRET)
        )
        started, size = time.perf_counter(), 0
        async with (
            httpx.AsyncClient(timeout=None) as client,
            client.stream(
                "GET",
                f"{base}/exports/transactions.{fmt}",
                headers={"Authorization": f"Bearer {token}"},
            ) as response,
        ):
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                size += len(chunk)
        elapsed = time.perf_counter() - started
        peak = _rss_mb(process.pid, "VmHWM")
        return Result(fmt, rows, elapsed, size / 2**20, idle, peak)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def run(sizes: dict[str, list[int]]) -> list[Result]:
    results = []
    async with throwaway_database("bench_exports") as url:
        started = time.perf_counter()
        wanted = sorted({rows for pair in sizes.values() for rows in pair})
        for rows in wanted:
            await seed(url, rows, f"owner{rows}@example.com")
        print(
            f"seeded accounts of {', '.join(f'{r:,}' for r in wanted)} entries "
            f"in {time.perf_counter() - started:.1f} s"
        )
        for fmt, pair in sizes.items():
            for rows in pair:
                result = await measure(url, fmt, rows)
                results.append(result)
                print(
                    f"  {fmt} {result.rows:,} rows: {result.seconds:.1f} s, "
                    f"peak {result.peak_rss_mb:.0f} MB"
                )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.exports", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="large CSV export")
    parser.add_argument(
        "--xlsx-rows",
        type=int,
        default=200_000,
        help="large XLSX export (openpyxl writes ~4,000 rows/s here)",
    )
    parser.add_argument("--small", type=int, default=100_000)
    args = parser.parse_args(argv)
    small_xlsx = min(args.small, args.xlsx_rows // 10)
    results = asyncio.run(
        run({"csv": [args.small, args.rows], "xlsx": [small_xlsx, args.xlsx_rows]})
    )
    print()
    print(
        table(
            ["format", "rows", "seconds", "rows/s", "MB out", "idle RSS MB", "peak RSS MB"],
            [
                [
                    r.format,
                    r.rows,
                    r.seconds,
                    r.rows / r.seconds,
                    r.megabytes_out,
                    r.idle_rss_mb,
                    r.peak_rss_mb,
                ]
                for r in results
            ],
        )
    )
    by_format: dict[str, list[Result]] = {}
    for r in results:
        by_format.setdefault(r.format, []).append(r)
    for fmt, pair in by_format.items():
        small, large = sorted(pair, key=lambda r: r.rows)
        growth = large.peak_rss_mb - small.peak_rss_mb
        print(
            f"{fmt}: {large.rows // max(small.rows, 1)}x the rows -> peak RSS "
            f"{small.peak_rss_mb:.0f} -> {large.peak_rss_mb:.0f} MB ({growth:+.0f} MB)"
        )
    save("exports", {"results": [asdict(r) for r in results]})


if __name__ == "__main__":
    main()
