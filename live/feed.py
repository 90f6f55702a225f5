"""How live events reach the subscriptions of every server process.

The outbox relay publishes each committed row once (`publisher`): straight into this
process's `Hub` on the embedded default, or on one Redis pub/sub channel when REDIS_URL
is set. Each server process then holds one Redis subscription (`RedisBridge`) that feeds
its own `Hub`, and the hub hands each event to the subscriptions of this process that
want it: a subscriber sees each event once, however many processes serve the API.

Delivery is at most once (pub/sub keeps nothing): a client that reconnects re-reads
what it shows (decision 30).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Protocol

import orjson
import redis.asyncio as redis

from ledger.live import LiveEvent
from observability import LIVE_SUBSCRIPTIONS
from settings import Settings

log = logging.getLogger("credits.live")

# Events a slow subscriber may have waiting; beyond that its subscription ends (the
# client re-reads and subscribes again) rather than the process holding them for ever.
QUEUE_SIZE = 256


def channel(settings: Settings) -> str:
    return f"{settings.redis_namespace}:live-events"


class Overflow(Exception):
    """A subscriber fell QUEUE_SIZE events behind."""


class Listener:
    """One subscription's queue of the events it wants."""

    def __init__(self, wants: Callable[[LiveEvent], bool]) -> None:
        self.wants = wants
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False

    async def next(self) -> LiveEvent:
        if self.overflowed:
            raise Overflow
        return await self.queue.get()

    def drain(self) -> list[LiveEvent]:
        """The events already waiting (a balance is shown once for a burst of them)."""
        waiting = []
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait())
        return waiting

    def offer(self, event: LiveEvent) -> None:
        # A full queue means the subscriber is not waiting: it learns at its next read.
        if self.queue.full():
            self.overflowed = True
        else:
            self.queue.put_nowait(event)


class Hub:
    """This process's subscriptions; used from the server's event loop only."""

    def __init__(self) -> None:
        self.listeners: set[Listener] = set()

    def publish(self, events: Iterable[LiveEvent]) -> None:
        for event in events:
            for listener in list(self.listeners):
                if listener.wants(event):
                    listener.offer(event)

    @contextlib.asynccontextmanager
    async def listen(self, wants: Callable[[LiveEvent], bool]) -> AsyncIterator[Listener]:
        listener = Listener(wants)
        self.listeners.add(listener)
        LIVE_SUBSCRIPTIONS.inc()
        try:
            yield listener
        finally:
            self.listeners.discard(listener)
            LIVE_SUBSCRIPTIONS.dec()


HUB = Hub()


class Publisher(Protocol):
    async def publish(self, events: list[LiveEvent]) -> None: ...

    async def close(self) -> None: ...


class LocalPublisher:
    """The embedded default: the relay runs in the server process, beside its hub."""

    def __init__(self, hub: Hub = HUB) -> None:
        self.hub = hub

    async def publish(self, events: list[LiveEvent]) -> None:
        self.hub.publish(events)

    async def close(self) -> None:
        return None


class RedisPublisher:
    """A `credits worker`'s relay: one message per event on the live channel."""

    def __init__(self, settings: Settings) -> None:
        self.client = redis.from_url(settings.redis_url)
        self.channel = channel(settings)

    async def publish(self, events: list[LiveEvent]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.channel, orjson.dumps(event.to_dict()))
            await pipe.execute()

    async def close(self) -> None:
        await self.client.aclose()


def publisher(settings: Settings) -> Publisher:
    return RedisPublisher(settings) if settings.redis_url else LocalPublisher()


class RedisBridge:
    """A server process's one subscription to the live channel, feeding its hub; it
    subscribes again after Redis went away (events published meanwhile are lost)."""

    def __init__(self, settings: Settings, hub: Hub = HUB) -> None:
        self.url, self.channel, self.hub = settings.redis_url, channel(settings), hub
        self.subscribed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self, within: float = 5.0) -> None:
        """Run in the background; wait (at most `within` seconds) until subscribed, so a
        process that says it is ready misses no event."""
        self.task = asyncio.get_running_loop().create_task(self._run())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.subscribed.wait(), within)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        while True:
            client = redis.from_url(self.url)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.subscribed.set()
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("live events: Redis subscription lost (%s); subscribing again", exc)
            finally:
                self.subscribed.clear()
                await client.aclose()
            await asyncio.sleep(1)

    def _deliver(self, data: bytes) -> None:
        try:
            event = LiveEvent.from_dict(orjson.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("live events: unreadable message ignored (%s)", exc)
            return
        self.hub.publish([event])
