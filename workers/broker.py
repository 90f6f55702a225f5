"""The dramatiq broker: Redis when REDIS_URL is set, else an in-memory stub.

The stub only lets actors be declared in `credits serve`; there, messages never go
through dramatiq but through `workers.dispatch.InProcessDispatcher`. Importing this
module sets the global broker, so import it before any actor module.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import AsyncIO, Middleware

from settings import Settings, get_settings, tortoise_config

log = logging.getLogger("credits.workers")


class Database(Middleware):
    """Opens Tortoise on the worker's event loop before any message, closes it after.

    Also starts the outbox relay on that loop, so every worker process hands committed
    notifications to the broker (several relays are safe: they skip each other's rows).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        from tortoise import Tortoise

        from workers.dispatch import BrokerDispatcher
        from workers.relay import run_relay

        loop_thread = get_event_loop_thread()
        assert loop_thread is not None, "the AsyncIO middleware must come first"
        loop_thread.run_coroutine(
            Tortoise.init(config=tortoise_config(self.settings), _enable_global_fallback=True)
        )
        self._stop = loop_thread.run_coroutine(_make_event())
        loop_thread.loop.call_soon_threadsafe(
            lambda: loop_thread.loop.create_task(
                run_relay(BrokerDispatcher(), self._stop, self.settings.outbox_poll_seconds)
            )
        )
        log.info("worker ready: database open, outbox relay running")

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        from tortoise import Tortoise

        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            return
        loop_thread.loop.call_soon_threadsafe(self._stop.set)
        loop_thread.run_coroutine(Tortoise.close_connections())


async def _make_event() -> Any:
    import asyncio

    return asyncio.Event()


def make_broker(settings: Settings) -> dramatiq.Broker:
    broker: dramatiq.Broker
    broker = (
        RedisBroker(url=settings.redis_url)  # type: ignore[no-untyped-call]
        if settings.redis_url
        else StubBroker()
    )
    broker.add_middleware(AsyncIO())
    broker.add_middleware(Database(settings))
    return broker


broker = make_broker(get_settings())
dramatiq.set_broker(broker)
