"""/metrics of `credits serve --workers 2` counts every process, not the one scraped."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.databases import postgres_url
from tests.live import free_port, wait_until_ready

ROOT = Path(__file__).resolve().parent


@contextmanager
def two_process_server(db: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db, "EMBEDDED_WORKERS": "false", "REDIS_URL": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT.parent,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process, log, within=60)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        if family.name == "credits_http_requests":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name == "credits_http_requests_total"
                and sample.labels.get("route") == "/healthz"
            )
    return 0.0


def test_every_scrape_counts_the_requests_of_both_processes(db: str, tmp_path: Path) -> None:
    """On PostgreSQL; on SQLite, several processes are refused (the test below)."""
    if not postgres_url():
        return _refused_on_sqlite(db)
    with two_process_server(db, tmp_path) as base:
        sent = 40
        for _ in range(sent):  # a new connection each: the kernel spreads them over both
            assert httpx.get(f"{base}/healthz").status_code == 200
        counts = [_healthz_count(httpx.get(f"{base}/metrics").text) for _ in range(8)]
    assert counts == [sent] * 8


def _refused_on_sqlite(db: str) -> None:
    """A SQLite file serves one process: `--workers 2` on it is refused, saying why."""
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--workers", "2"],
        cwd=ROOT.parent,
        env={**os.environ, "DATABASE_URL": db},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers needs PostgreSQL" in result.stderr
