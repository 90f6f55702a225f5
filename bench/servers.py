"""The HTTP servers an API benchmark compares, each one process on loopback.

The service runs as production runs it (`credits serve`: one worker, uvloop, httptools,
JSON logs with the access log on stderr); the baseline as a bare uvicorn app;
PostGraphile 4 (for the list scenarios) as one Node process over the same database,
installed on first use into `bench/node/node_modules` from `bench/node/package-lock.json`.
All are stopped on the way out, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.sink import free_port

ROOT = Path(__file__).resolve().parent.parent
NODE = ROOT / "bench" / "node"
POSTGRAPHILE = NODE / "node_modules" / ".bin" / "postgraphile"
Ready = Callable[[str], bool]  # base URL → answering yet?


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


def postgraphile_command(port: int, url: str) -> list[str]:
    return [
        str(POSTGRAPHILE), "--connection", url, "--schema", "public", "--host", "127.0.0.1",
        "--port", str(port), "--disable-graphiql", "--disable-query-log",
    ]  # fmt: skip


def install_postgraphile() -> None:
    """`npm ci` in bench/node the first time (npm's cache serves it offline after that)."""
    if POSTGRAPHILE.exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit(
            "PostGraphile needs Node.js and npm: `apt-get install nodejs npm` (Node 18+)."
        )
    print("installing PostGraphile 4 into bench/node/node_modules (npm ci)", flush=True)
    subprocess.run(
        ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"], cwd=NODE, check=True
    )


def readyz(base_url: str) -> bool:
    return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200


def answers_graphql(base_url: str) -> bool:
    query = {"query": "{ __typename }"}
    return httpx.post(f"{base_url}/graphql", json=query, timeout=1).status_code == 200


def _wait_ready(base_url: str, ready: Ready, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if ready(base_url):
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
    name: str,
    command: list[str],
    port: int,
    env: dict[str, str],
    log: Path,
    ready: Ready = readyz,
) -> Iterator[Server]:
    """Start `command` (listening on `port`), wait until it is `ready`, stop it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, ready, process, log)
        yield Server(name=name, base_url=base_url, pid=process.pid, log=log)
    finally:
        _stop(process)


@contextmanager
def started(
    names: tuple[str, ...], env: dict[str, str], postgres_url: str, logs: Path
) -> Iterator[dict[str, Server]]:
    """The servers named (service, baseline, postgraphile) on free ports; the Python two
    with the same environment, PostGraphile on `postgres_url`."""
    with ExitStack() as stack:
        servers: dict[str, Server] = {}
        for name in names:
            port, log = free_port(), logs / f"{name}.log"
            if name == "postgraphile":
                install_postgraphile()
                command, ready = postgraphile_command(port, postgres_url), answers_graphql
                server_env = {"NODE_ENV": "production"}
            else:
                command = service_command(port) if name == "service" else baseline_command(port)
                ready, server_env = readyz, env
            servers[name] = stack.enter_context(
                http_server(name, command, port, server_env, log, ready)
            )
        yield servers
