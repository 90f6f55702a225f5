"""The two HTTP servers an API benchmark compares, each one uvicorn process on loopback.

The service runs as production runs it (`credits serve`: one worker, uvloop, httptools,
JSON logs with the access log on stderr); the baseline as a bare uvicorn app. Both are
stopped on the way out, whatever happened.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.sink import free_port

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    name: str
    base_url: str
    pid: int
    log: Path


def service_command(port: int) -> list[str]:
    return [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


def baseline_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bench.baseline:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"{base_url} did not start:\n{tail}")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def http_server(
    name: str, command: list[str], port: int, env: dict[str, str], log: Path
) -> Iterator[Server]:
    """Start `command` (listening on `port`), wait until /readyz answers, stop it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, log)
        yield Server(name=name, base_url=base_url, pid=process.pid, log=log)
    finally:
        _stop(process)


@contextmanager
def both(env: dict[str, str], logs: Path) -> Iterator[dict[str, Server]]:
    """The service and the baseline, on free ports, with the same environment."""
    service_port, baseline_port = free_port(), free_port()
    with (
        http_server(
            "service", service_command(service_port), service_port, env, logs / "service.log"
        ) as service,
        http_server(
            "baseline", baseline_command(baseline_port), baseline_port, env,
            logs / "baseline.log",
        ) as baseline,
    ):  # fmt: skip
        yield {"service": service, "baseline": baseline}
