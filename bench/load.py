"""A closed-loop HTTP load generator: N clients, each its own keep-alive connection.

Each client sends its next request as soon as the last one is answered. A round warms
up first (connections opened, pools filled, caches primed), then counts every request
that starts and ends inside the measured window; latency is from send to full body.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.cpu import CpuProbe, CpuTimes

MakeRequest = Callable[[int], tuple[bytes, dict[str, str]]]  # client index → body, headers


@dataclass
class Load:
    """What one server did over one or more measured windows."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    errors: int = 0
    answered: int = 0  # successful answers, warm-up and tail included
    cpu: CpuTimes = field(default_factory=CpuTimes)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def cpu_ms_per_request(self) -> dict[str, float]:
        n = max(1, self.requests + self.errors)
        return {
            "client": 1000 * self.cpu.client / n,
            "server": 1000 * self.cpu.server / n,
            "postgres": 1000 * self.cpu.postgres / n,
            "other": 1000 * self.cpu.other / n,
        }

    def add(self, other: Load) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.errors += other.errors
        self.answered += other.answered
        self.cpu.add(other.cpu)


@dataclass(frozen=True)
class Window:
    starts: float
    ends: float

    def covers(self, started: float, ended: float) -> bool:
        return self.starts <= started and ended <= self.ends


async def _client(
    index: int,
    http: httpx.AsyncClient,
    path: str,
    make: MakeRequest,
    check: Callable[[bytes], bool],
    window: Window,
    load: Load,
) -> None:
    while (started := time.perf_counter()) < window.ends:
        body, headers = make(index)
        try:
            response = await http.post(path, content=body, headers=headers)
            good = response.status_code == 200 and check(response.content)
        except httpx.HTTPError:
            good = False
        ended = time.perf_counter()
        load.answered += good
        if window.covers(started, ended):
            if good:
                load.latencies.append(ended - started)
            else:
                load.errors += 1


async def run_round(
    base_url: str,
    path: str,
    make: MakeRequest,
    check: Callable[[bytes], bool],
    *,
    clients: int,
    warmup: float,
    seconds: float,
    probe: Callable[[], Awaitable[CpuProbe]],
) -> Load:
    """One round: `clients` connections, `warmup` seconds unmeasured, then `seconds`.

    `probe` is asked for the processes to watch once warmed up (pools have grown by then).
    """
    load = Load(seconds=seconds)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    https = [
        httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) for _ in range(clients)
    ]
    now = time.perf_counter()
    window = Window(now + warmup, now + warmup + seconds)
    tasks = [
        asyncio.create_task(_client(i, http, path, make, check, window, load))
        for i, http in enumerate(https)
    ]
    try:
        await asyncio.sleep(max(0.0, window.starts - time.perf_counter() - 0.2))
        watch = await probe()
        await asyncio.sleep(max(0.0, window.starts - time.perf_counter()))
        start = watch.sample()
        await asyncio.sleep(max(0.0, window.ends - time.perf_counter()))
        load.cpu = CpuProbe.between(start, watch.sample())
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for http in https:
            await http.aclose()
    return load
