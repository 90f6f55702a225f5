"""The dramatiq broker on Redis, built only where it is used.

`credits worker` builds one with the middleware that runs async jobs and opens the
database (`make_worker_broker`); an API process that only enqueues builds a bare one
(`make_broker`). Nothing here runs at import time. Queues and keys live under
REDIS_NAMESPACE, so two deployments can share one Redis database.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware

from settings import ConfigurationError, Settings, tortoise_config

log = logging.getLogger("credits.workers")


def make_broker(settings: Settings) -> RedisBroker:
    if not settings.redis_url:
        raise ConfigurationError("the dramatiq broker needs REDIS_URL")
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url, namespace=settings.redis_namespace
    )


class Database(Middleware):
    """Opens Tortoise on the worker's event loop before any message, closes it after.

    Also runs the outbox relay on that loop, so every worker process hands committed
    notifications to the broker (several relays are safe: they skip each other's rows).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop: asyncio.Event | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        from tortoise import Tortoise

        from workers.dispatch import BrokerDispatcher
        from workers.relay import run_relay

        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("the AsyncIO middleware must come before Database")
        loop_thread.run_coroutine(
            Tortoise.init(config=tortoise_config(self.settings), _enable_global_fallback=True)
        )
        stop = self._stop = loop_thread.run_coroutine(_make_event())
        dispatcher = BrokerDispatcher(self.settings, broker)
        loop_thread.loop.call_soon_threadsafe(
            lambda: loop_thread.loop.create_task(run_relay(dispatcher, stop, self.settings))
        )
        log.info("worker ready: database open, outbox relay running")

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        from tortoise import Tortoise

        loop_thread = get_event_loop_thread()
        if loop_thread is None or self._stop is None:
            return
        loop_thread.loop.call_soon_threadsafe(self._stop.set)
        loop_thread.run_coroutine(Tortoise.close_connections())


async def _make_event() -> asyncio.Event:
    return asyncio.Event()


def make_worker_broker(settings: Settings) -> RedisBroker:
    broker = make_broker(settings)
    broker.add_middleware(AsyncIO())
    broker.add_middleware(Database(settings))
    return broker
