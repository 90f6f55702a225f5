"""Where a loopback benchmark's CPU goes: the load generator, the server, PostgreSQL, others.

On a small machine the load generator, the server and the database share the cores, so
a run reports each one's CPU time over the measured window (from /proc, Linux only):
the server's whole process tree, the database's backends, the load generator (measured
by the caller: a child process's own usage), and the rest of the machine's busy time as
`other` (noise from anything else running).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it has gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants living now (a server may fork workers or helpers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores) since boot."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


@dataclass
class CpuTimes:
    client: float = 0.0
    server: float = 0.0
    postgres: float = 0.0
    other: float = 0.0

    def add(self, other: CpuTimes) -> None:
        self.client += other.client
        self.server += other.server
        self.postgres += other.postgres
        self.other += other.other


@dataclass(frozen=True)
class Sample:
    server: dict[int, float]  # per process of the server's tree
    postgres: dict[int, float]  # per backend: backends come and go
    busy: float


def _spent(start: dict[int, float], end: dict[int, float]) -> float:
    """CPU seconds between two samples of the same processes; one gone since counts 0."""
    return sum(max(0.0, end[pid] - start[pid]) for pid in start if end.get(pid))


@dataclass
class CpuProbe:
    """Samples a server's processes (`process_tree`) and its database backends."""

    server_pids: list[int]
    postgres_pids: list[int]

    def sample(self) -> Sample:
        return Sample(
            server={pid: process_cpu(pid) for pid in self.server_pids},
            postgres={pid: process_cpu(pid) for pid in self.postgres_pids},
            busy=machine_busy(),
        )

    @staticmethod
    def between(start: Sample, end: Sample, *, client: float) -> CpuTimes:
        """CPU times between two samples; `client`: the load generator's CPU seconds."""
        server, postgres = _spent(start.server, end.server), _spent(start.postgres, end.postgres)
        other = end.busy - start.busy - client - server - postgres
        return CpuTimes(client, server, postgres, max(0.0, other))


def prioritise(pids: list[int], nice: int) -> None:
    """Renice the benchmark's own processes (and its database's backends) on a shared box."""
    for pid in pids:
        try:
            os.setpriority(os.PRIO_PROCESS, pid, nice)
        except OSError as exc:  # not permitted, or the process has gone
            print(f"warning: cannot renice {pid}: {exc}")


@contextmanager
def prioritised_session(nice: int) -> Iterator[None]:
    """With autogroup scheduling a nice value only counts inside its session's group, so
    this session's group (the load generator and both servers) gets `nice` as a whole;
    the group's value is put back afterwards (it outlives this process)."""
    group = Path("/proc/self/autogroup")
    try:
        before = int(group.read_text().split("nice")[1])
        group.write_text(str(nice))
    except (OSError, IndexError, ValueError) as exc:
        print(f"warning: cannot renice this session's autogroup: {exc}")
        yield
        return
    try:
        yield
    finally:
        group.write_text(str(before))
