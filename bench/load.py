"""Closed-loop HTTP load from `wrk`, a C load generator, so that the client costs the
servers no CPU share worth mentioning (a Python client spent 2-4 ms per request here).

wrk keeps N keep-alive connections busy: each sends its next request as soon as the
last one is answered. `bench/wrk/post.lua` posts the prepared bodies round-robin, checks
each answer, and prints one JSON line of figures when the run ends. A round is two wrk
runs: a warm-up (connections opened, pools filled, caches primed), then the measured
one, with the CPU of the server, PostgreSQL and wrk itself taken around it.

    apt-get install wrk     # Debian and Ubuntu; brew install wrk on macOS
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cpu import CpuProbe, CpuTimes

SCRIPT = Path(__file__).resolve().parent / "wrk" / "post.lua"
PLACEHOLDER = "@KEY@"  # replaced by wrk with a serial unique in its run
THREADS = 2
TIMEOUT = "30s"  # a slow answer is a slow answer, not a socket error

Request = tuple[bytes, dict[str, str]]  # body, headers


class WrkMissing(SystemExit):
    def __init__(self) -> None:
        super().__init__(
            "wrk is not installed: the API benchmark drives the servers with it.\n"
            "Install it with `apt-get install wrk` (Debian, Ubuntu) or `brew install wrk`."
        )


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing()
    return path


@dataclass(frozen=True)
class Check:
    """A good answer: status 200, contains `must`, and does not contain `must_not`."""

    must: str
    must_not: str = ""

    def accepts(self, body: bytes) -> bool:
        """The same test for an answer read in-process (the status is checked apart)."""
        text = body.decode(errors="replace")
        return self.must in text and not (self.must_not and self.must_not in text)


@dataclass
class Load:
    """What one server did over one or more measured windows."""

    seconds: float = 0.0
    requests: int = 0  # good answers inside the measured windows
    errors: int = 0  # rejected answers (non-200 or failing the check) and socket errors
    answered: int = 0  # good answers, warm-ups included
    quantiles: list[tuple[float, float]] = field(default_factory=list)  # (µs, weight)
    cpu: CpuTimes = field(default_factory=CpuTimes)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """The q-quantile of the pooled latency distributions of the measured windows."""
        if not self.quantiles:
            return 0.0
        ordered = sorted(self.quantiles)
        wanted, seen = q * sum(weight for _, weight in ordered), 0.0
        for value, weight in ordered:
            seen += weight
            if seen >= wanted:
                return value / 1000
        return ordered[-1][0] / 1000

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
        self.requests += other.requests
        self.errors += other.errors
        self.answered += other.answered
        self.quantiles += other.quantiles
        self.cpu.add(other.cpu)


def _figures(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"wrk printed no figures:\n{output[-2000:]}")
    return dict(json.loads(lines[-1]))


def as_load(figures: dict[str, Any]) -> Load:
    """A Load from the JSON line of `post.lua`'s done()."""
    good, points = int(figures["good"]), [float(p) for p in figures["percentiles_us"]]
    # wrk's percentiles are over every answer: the good ones, spread evenly over them.
    weight = good / len(points) if points else 0.0
    return Load(
        seconds=figures["duration_us"] / 1e6, requests=good,
        errors=int(figures["rejected"]) + int(figures["socket_errors"]), answered=good,
        quantiles=[(p, weight) for p in points],
    )  # fmt: skip


async def _wrk(
    url: str, requests_file: Path, check: Check, *, connections: int, seconds: int
) -> tuple[Load, float]:
    """One wrk run: the load it measured and the CPU seconds wrk itself used."""
    command = [
        require_wrk(), "-t", str(min(THREADS, connections)), "-c", str(connections),
        "-d", f"{seconds}s", "--timeout", TIMEOUT, "-s", str(SCRIPT), url, "--",
        str(requests_file), check.must, check.must_not,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    samples = [line for line in text.splitlines() if line.startswith("rejected: ")]
    if samples:
        print(f"warning: {url} answered badly, for example: {samples[0][10:]}", flush=True)
    return as_load(_figures(text)), cpu


def write_requests(path: Path, requests: Sequence[Request]) -> None:
    """The file `post.lua` reads: "<Authorization>\\t<body>" a line."""
    with path.open("w") as out:
        for body, headers in requests:
            text = body.decode()
            if "\n" in text or "\t" in text:
                raise ValueError("a request body must be one line without tabs")
            out.write(f"{headers.get('authorization', '')}\t{text}\n")


def whole_seconds(seconds: float) -> int:
    """wrk takes whole seconds."""
    return max(1, math.ceil(seconds - 1e-9))


async def run_round(
    url: str,
    requests: Callable[[str], Sequence[Request]],
    check: Check,
    *,
    connections: int,
    warmup: float,
    seconds: float,
    probe: Callable[[], Awaitable[CpuProbe]],
) -> Load:
    """A warm-up run, then a measured one. `requests(label)` gives the bodies of one run
    (each run's label differs, so idempotency keys never repeat across runs); `probe` is
    asked for the processes to watch once warmed up (pools have grown by then)."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        warm_file, measured_file = Path(tmp) / "warmup.tsv", Path(tmp) / "measured.tsv"
        write_requests(warm_file, requests("w"))
        write_requests(measured_file, requests("m"))
        warm, _ = await _wrk(
            url, warm_file, check, connections=connections, seconds=whole_seconds(warmup)
        )
        watch = await probe()
        start = watch.sample()
        load, wrk_cpu = await _wrk(
            url, measured_file, check, connections=connections, seconds=whole_seconds(seconds)
        )
        load.cpu = CpuProbe.between(start, watch.sample(), client=wrk_cpu)
    load.answered += warm.answered
    return load
