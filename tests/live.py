"""A real `uvicorn` server on loopback, sharing the test database, for concurrency tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(
    base: str, process: subprocess.Popen[bytes], log_path: Path, *, within: float
) -> None:
    """Until `base/readyz` answers 200; RuntimeError with the server's log if it exits or
    takes longer than `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = log_path.read_text(errors="replace")
            raise RuntimeError(f"server did not start:\n{output}")
        time.sleep(0.1)


@contextmanager
def live_server(
    db_url: str,
    *,
    workers: int,
    extra_env: dict[str, str] | None = None,
    log_level: str = "warning",
    log_path: Path | None = None,
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
    log_path = log_path or Path(os.environ.get("LIVE_SERVER_LOG", f"/tmp/credits-live-{port}.log"))
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
            log_level,
        ],
        cwd=ROOT,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    with stopped_after(process):
        wait_until_ready(base, process, log_path, within=30)
        yield base


class Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=Startable)


@contextmanager
def started(server: S) -> Iterator[S]:
    """`server` (a loopback SMTP or Redis server) started for the duration, stopped on the
    way out."""
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def stopped_after(process: subprocess.Popen[bytes], *, within: float = 15) -> Iterator[None]:
    """Terminate `process` on the way out, and kill it if it has not stopped `within`."""
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=within)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def credits_worker(
    db_url: str, env: dict[str, str], log_path: Path, *, processes: int, threads: int = 2
) -> Iterator[None]:
    """`credits worker` on `db_url` with `env` (REDIS_URL…), for the duration."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "cli", "worker", "--processes", str(processes),
         "--threads", str(threads)],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db_url, **env},
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    with stopped_after(worker, within=20):
        yield


class LoggedServer:
    """A live server logging JSON lines that a test reads."""

    def __init__(self, base: str, log_path: Path) -> None:
        self.base = base
        self.log_path = log_path

    def mark(self) -> int:
        """Where the log ends now: pass it as `since` to see only what comes next."""
        return self.log_path.stat().st_size

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        text = self.log_path.read_bytes()[since:].decode(errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def wait_for(self, text: str, since: int, timeout: float = 5) -> list[dict[str, Any]]:
        """The events since `since`, once one of them says `text` (or when time runs out)."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events(since)
            if any(text in str(e.get("event")) for e in events) or time.monotonic() > deadline:
                return events
            time.sleep(0.05)
