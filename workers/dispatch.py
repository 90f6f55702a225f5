"""Handing work to the workers: through dramatiq, or on this process's own loop.

`credits serve` without REDIS_URL has no separate worker: its InProcessDispatcher runs
the same actor functions as tasks on the server's event loop, retrying with backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from workers.actors import ACTORS

log = logging.getLogger("credits.workers")


class Dispatcher(Protocol):
    async def send(self, actor_name: str, *args: Any) -> None: ...


class BrokerDispatcher:
    """Enqueue on the dramatiq broker (Redis). Raises when the broker is unreachable."""

    async def send(self, actor_name: str, *args: Any) -> None:
        await asyncio.to_thread(ACTORS[actor_name].send, *args)


class InProcessDispatcher:
    def __init__(self, *, retries: int = 5, min_backoff: float = 1.0) -> None:
        self.retries = retries
        self.min_backoff = min_backoff
        self.tasks: set[asyncio.Task[None]] = set()

    async def send(self, actor_name: str, *args: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._run(actor_name, args))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, actor_name: str, args: tuple[Any, ...]) -> None:
        actor = ACTORS[actor_name]
        # dramatiq wraps an async actor's function in a bridge to its own loop thread.
        body: Callable[..., Awaitable[None]] = actor.fn.__wrapped__  # type: ignore[union-attr]
        throws = actor.options.get("throws") or ()
        for attempt in range(self.retries + 1):
            try:
                await body(*args)
                return
            except Exception as exc:
                if isinstance(exc, throws) or attempt == self.retries:
                    log.error("%s%s failed for good: %s", actor_name, args, exc)
                    return
                delay = self.min_backoff * 2**attempt
                log.warning("%s%s failed (%s); retrying in %.1fs", actor_name, args, exc, delay)
                await asyncio.sleep(delay)

    async def drain(self) -> None:
        """Wait for the work handed over so far (tests, and graceful shutdown)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)
