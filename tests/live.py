"""A real `uvicorn` server on loopback, sharing the test database, for concurrency tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(
    db_url: str, *, workers: int, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DB_POOL_SIZE": "10",
        # The tests drive delivery themselves; this server only answers GraphQL.
        "EMBEDDED_WORKERS": "false",
        **(extra_env or {}),
    }
    log_path = Path(os.environ.get("LIVE_SERVER_LOG", f"/tmp/credits-live-{port}.log"))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text(errors="replace")
                raise RuntimeError(f"server did not start:\n{output}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
