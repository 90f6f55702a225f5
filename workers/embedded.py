"""Workers inside `credits serve` when there is no REDIS_URL: the embedded default.

The relay hands outbox rows to an InProcessDispatcher on the server's loop, and the
scheduler (with a database lease per tick) sends the nightly jobs the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from settings import Settings
from workers.dispatch import InProcessDispatcher
from workers.relay import run_relay
from workers.scheduler import DatabaseTickLock, build_scheduler

log = logging.getLogger("credits.workers")


class EmbeddedWorkers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dispatcher = InProcessDispatcher(settings)
        self.stop_event = asyncio.Event()
        self.scheduler = build_scheduler(
            settings, self.dispatcher, DatabaseTickLock(f"serve@{socket.gethostname()}")
        )
        self.relay: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.relay = asyncio.get_running_loop().create_task(
            run_relay(self.dispatcher, self.stop_event, self.settings)
        )
        self.scheduler.start()
        log.info("embedded workers: outbox relay, mail delivery and scheduler in-process")

    async def stop(self, grace_seconds: float = 10.0) -> None:
        self.stop_event.set()
        self.scheduler.shutdown(wait=False)
        if self.relay is not None:
            await self.relay
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.dispatcher.drain(), grace_seconds)
