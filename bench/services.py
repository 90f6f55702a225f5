"""Processes a benchmark starts and always stops: its own redis-server, a `credits worker`."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import cpu
from bench.sink import free_port

ROOT = Path(__file__).resolve().parent.parent


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    """A private redis-server on a free port (the shared one is left alone); its URL."""
    if shutil.which("redis-server") is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_redis(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process, grace=10)


def _wait_for_redis(port: int, process: subprocess.Popen[bytes]) -> None:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            if client.ping():
                return
        except redis.ConnectionError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)


class Worker:
    """`credits worker` in a subprocess; `cpu_seconds` is filled in once it has exited."""

    def __init__(self, env: dict[str, str], log: Path, *, threads: int) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.threads = threads
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.cpu_seconds = 0.0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Worker:
        command = [sys.executable, "-m", "cli", "worker", "--processes", "1",
                   "--threads", str(self.threads)]  # fmt: skip
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.started_at = time.monotonic()
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        return self

    def cpu_now(self) -> float:
        """CPU seconds used so far by the worker's processes still alive."""
        if self.process is None:
            return 0.0
        return sum(cpu.process_cpu(pid) for pid in cpu.process_tree(self.process.pid))

    def kill9(self) -> None:
        """SIGKILL the worker and its children at once, as an OOM killer would."""
        if self.process is None:
            return
        for pid in cpu.process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait()

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        before = _children_cpu()
        _stop(self.process, grace=30)
        # The worker's supervisor reaps its worker process, so this counts both.
        self.cpu_seconds = _children_cpu() - before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
