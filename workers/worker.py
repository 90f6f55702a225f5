"""The entry point `credits worker` gives dramatiq: one actor per job of `workers.jobs`.

Importing this module builds the Redis broker and declares the actors, which is what
dramatiq's command line expects of the module it is given; nothing else imports it.
Its `AsyncDatabase` middleware opens Tortoise on the worker's loop and runs the outbox
relay.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AsyncIO
from tortoise import Tortoise

from settings import Settings, get_settings, tortoise_config
from workers.broker import make_broker
from workers.dispatch import BrokerDispatcher
from workers.jobs import Job, registry
from workers.relay import run_relay

log = logging.getLogger("credits.workers")


class AsyncDatabase(AsyncIO):
    """dramatiq's event loop thread, with Tortoise open on it for as long as any message
    may run, and the outbox relay running beside the actors (several relays are safe:
    they skip each other's rows).

    Tortoise is closed only after the worker threads have finished their messages
    (`after_worker_shutdown`, before the loop stops): closing it when shutdown begins
    broke the deliveries still running, and a copy the SMTP server had accepted was then
    never recorded as sent, and went out again on the retry.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self._stop: asyncio.Event | None = None
        self._relay: concurrent.futures.Future[None] | None = None

    def before_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        super().before_worker_boot(broker, worker)  # type: ignore[no-untyped-call]
        loop_thread = get_event_loop_thread()
        if loop_thread is None:
            raise RuntimeError("dramatiq's event loop thread did not start")
        loop_thread.run_coroutine(
            Tortoise.init(config=tortoise_config(self.settings), _enable_global_fallback=True)
        )
        stop = self._stop = loop_thread.run_coroutine(_make_event())
        dispatcher = BrokerDispatcher(self.settings, broker)
        self._relay = asyncio.run_coroutine_threadsafe(
            run_relay(dispatcher, stop, self.settings), loop_thread.loop
        )
        log.info("worker ready: database open, outbox relay running")

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None and self._stop is not None:
            loop_thread.loop.call_soon_threadsafe(self._stop.set)

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            if self._relay is not None:
                self._relay.result(timeout=30)
            loop_thread.run_coroutine(Tortoise.close_connections())
        super().after_worker_shutdown(broker, worker)  # type: ignore[no-untyped-call]


async def _make_event() -> asyncio.Event:
    return asyncio.Event()


def make_worker_broker(settings: Settings) -> RedisBroker:
    broker = make_broker(settings)
    broker.add_middleware(AsyncDatabase(settings))
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
