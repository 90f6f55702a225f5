"""The entry point `credits worker` gives dramatiq: one actor per job of `workers.jobs`.

Importing this module builds the Redis broker and declares the actors, which is what
dramatiq's command line expects of the module it is given; nothing else imports it.
Its `Database` middleware opens Tortoise on the worker's loop and runs the outbox relay.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO, Middleware
from tortoise import Tortoise

from settings import Settings, get_settings, tortoise_config
from workers.broker import make_broker
from workers.dispatch import BrokerDispatcher
from workers.jobs import Job, registry
from workers.relay import run_relay

log = logging.getLogger("credits.workers")


class Database(Middleware):
    """Opens Tortoise on the worker's event loop before any message, closes it after.

    Also runs the outbox relay on that loop, so every worker process hands committed
    notifications to the broker (several relays are safe: they skip each other's rows).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop: asyncio.Event | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
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


_settings = get_settings()
broker = make_worker_broker(_settings)
dramatiq.set_broker(broker)


def declare(job: Job) -> dramatiq.Actor[..., None]:
    decorate = dramatiq.actor(
        actor_name=job.name.value,
        broker=broker,
        queue_name=job.queue,
        max_retries=job.max_retries,
        min_backoff=job.min_backoff_ms,
        max_backoff=job.max_backoff_ms,
        time_limit=job.time_limit_ms,
        throws=job.permanent,
    )
    return decorate(job.run)


ACTORS = {name: declare(job) for name, job in registry(_settings).items()}
