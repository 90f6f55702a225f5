"""An SMTP sink on loopback, in a process of its own, that counts what it accepts.

Its own process, so that neither the sender measured (a baseline in the benchmark's
process, or the worker) shares an interpreter lock with it. It keeps no mail: it counts
accepted messages and the monotonic times of the first and the last one (the clock is
system-wide on Linux, so durations compare across processes). It also counts copies
whose Message-ID it has accepted before since the last reset: duplicates (the service
gives each outbox message and recipient one Message-ID).
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Counters:
    """Shared between the sink and the benchmark: count, first and last acceptance time,
    duplicates, and a generation that a reset bumps (the sink then forgets what it saw)."""

    count: Any
    first: Any
    last: Any
    duplicates: Any
    generation: Any

    @classmethod
    def create(cls, ctx: Any) -> Counters:
        return cls(
            ctx.Value("q", 0), ctx.Value("d", 0.0), ctx.Value("d", 0.0), ctx.Value("q", 0),
            ctx.Value("q", 0),
        )  # fmt: skip

    def record(self, duplicate: bool = False) -> None:
        now = time.monotonic()
        with self.count.get_lock():
            if self.count.value == 0:
                self.first.value = now
            self.count.value += 1
            self.duplicates.value += int(duplicate)
            self.last.value = now

    def reset(self) -> None:
        with self.count.get_lock():
            self.count.value, self.first.value, self.last.value = 0, 0.0, 0.0
            self.duplicates.value = 0
            self.generation.value += 1

    def duplicate_count(self) -> int:
        with self.count.get_lock():
            return int(self.duplicates.value)

    def snapshot(self) -> tuple[int, float, float]:
        with self.count.get_lock():
            return int(self.count.value), float(self.first.value), float(self.last.value)


def message_id(content: bytes) -> bytes:
    """The Message-ID header's value (the headers end at the first empty line)."""
    headers = content.split(b"\r\n\r\n", 1)[0]
    for line in headers.split(b"\n"):
        if line[:11].lower() == b"message-id:":
            return line[11:].strip()
    return b""


class CountingHandler:
    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.seen: set[bytes] = set()
        self.generation = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.counters.generation.value != self.generation:
            self.generation, self.seen = int(self.counters.generation.value), set()
        key = message_id(bytes(envelope.content))
        duplicate = bool(key) and key in self.seen
        self.seen.add(key)
        self.counters.record(duplicate)
        return "250 OK"


def _serve(port: int, counters: Counters, ready: Event, stop: Event) -> None:
    controller = Controller(CountingHandler(counters), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    # aiosmtpd's readiness probe cannot use port 0 (aiosmtpd#276): find one ourselves.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sink:
    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.counters = Counters.create(ctx)
        self._ready = ctx.Event()
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_serve, args=(self.port, self.counters, self._ready, self._stop), daemon=True
        )

    def __enter__(self) -> Sink:
        self._process.start()
        if not self._ready.wait(timeout=30):
            self._process.kill()
            raise RuntimeError("the SMTP sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def wait_for(self, count: int, *, timeout: float, alive: Any = None) -> bool:
        """Wait until `count` messages were accepted; False on timeout or when `alive()` fails."""
        deadline = time.monotonic() + timeout
        while self.counters.snapshot()[0] < count:
            if time.monotonic() > deadline or (alive is not None and not alive()):
                return False
            time.sleep(0.05)
        return True
