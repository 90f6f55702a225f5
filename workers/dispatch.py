"""Handing jobs to the workers: through the Redis broker, or on this process's own loop.

`credits serve` without REDIS_URL has no separate worker: its InProcessDispatcher runs
the jobs of `workers.jobs` as tasks on the server's event loop, retrying with the same
policy dramatiq would use.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Protocol

import dramatiq

from settings import Settings
from workers.broker import make_broker
from workers.jobs import Job, JobName, registry

log = logging.getLogger("credits.workers")


class Dispatcher(Protocol):
    async def send(self, job: JobName, *args: Any, attempt: int = 0) -> None:
        """Run `job` with `args` soon; `attempt` is how many runs failed before (so a job
        handed over again keeps its place in the retry schedule)."""


class BrokerDispatcher:
    """Enqueue on the dramatiq broker (Redis). Raises when the broker is unreachable."""

    def __init__(self, settings: Settings, broker: dramatiq.Broker | None = None) -> None:
        self.jobs = registry(settings)
        self.broker = broker or make_broker(settings)

    async def send(self, job: JobName, *args: Any, attempt: int = 0) -> None:
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=self.jobs[job].queue,
            actor_name=job.value,
            args=args,
            kwargs={},
            options={"retries": attempt} if attempt else {},
        )
        await asyncio.to_thread(self.broker.enqueue, message)


class InProcessDispatcher:
    """Runs each job as a task of its own on the running loop.

    The task starts in an empty context, never in the caller's: the relay sends from
    inside its transaction, and Tortoise keeps that transaction's connection in a context
    variable; a task that inherited it would use the connection after it went back to the
    pool ("another operation is in progress"). Tortoise's global fallback gives the task
    the pool instead.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.jobs = registry(settings)
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, job: JobName, *args: Any, attempt: int = 0) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(self.jobs[job], args, attempt), context=contextvars.Context()
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, job: Job, args: tuple[Any, ...], start: int) -> None:
        for attempt in range(min(start, job.max_retries), job.max_retries + 1):
            try:
                await job.run(*args, settings=self.settings)
                return
            except Exception as exc:
                if isinstance(exc, job.permanent) or attempt == job.max_retries:
                    log.error("%s%s failed for good: %s", job.name, args, exc)
                    return
                delay = job.backoff_seconds(attempt)
                log.warning("%s%s failed (%s); retrying in %.1fs", job.name, args, exc, delay)
                await asyncio.sleep(delay)

    async def drain(self) -> None:
        """Wait for the work handed over so far (tests, and graceful shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
