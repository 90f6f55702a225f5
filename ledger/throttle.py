"""Brute-force protection for redemption codes.

Wrong codes are counted per user and per client address in fixed windows; once either
count reaches its limit, every attempt from that user or address is RATE_LIMITED until
the window ends (the cooling-off period). Counters live in Redis when REDIS_URL is set,
so all server processes share them, and in this process's memory otherwise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from ledger.errors import RateLimited
from settings import get_settings


class Counter(Protocol):
    async def get(self, key: str) -> int: ...
    async def hit(self, key: str, window_seconds: int) -> int: ...


class MemoryCounter:
    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}

    async def get(self, key: str) -> int:
        count, until = self._counts.get(key, (0, 0.0))
        return count if until > time.monotonic() else 0

    async def hit(self, key: str, window_seconds: int) -> int:
        now = time.monotonic()
        count, until = self._counts.get(key, (0, 0.0))
        if until <= now:
            count, until = 0, now + window_seconds
        self._counts[key] = (count + 1, until)
        return count + 1


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)

    async def get(self, key: str) -> int:
        value = await self._redis.get(key)
        return int(value or 0)

    async def hit(self, key: str, window_seconds: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_seconds, nx=True)
            count, _ = await pipe.execute()
        return int(count)


@dataclass(frozen=True)
class Limits:
    per_user: int
    per_address: int
    window_seconds: int


_counter: Counter | None = None


def counter() -> Counter:
    global _counter
    if _counter is None:
        url = get_settings().redis_url
        _counter = RedisCounter(url) if url else MemoryCounter()
    return _counter


def set_counter(value: Counter | None) -> None:
    global _counter
    _counter = value


def limits() -> Limits:
    s = get_settings()
    return Limits(s.code_attempts_per_user, s.code_attempts_per_address, s.code_attempts_window)


def _keys(user_id: int, address: str) -> list[tuple[str, int]]:
    lim = limits()
    keys = [(f"credits:badcode:user:{user_id}", lim.per_user)]
    if address:
        keys.append((f"credits:badcode:addr:{address}", lim.per_address))
    return keys


async def check_code_attempts(*, user_id: int, address: str) -> None:
    for key, limit in _keys(user_id, address):
        if await counter().get(key) >= limit:
            raise RateLimited("too many wrong redemption codes; try again later", field=["code"])


async def record_wrong_code(*, user_id: int, address: str) -> None:
    for key, _ in _keys(user_id, address):
        await counter().hit(key, limits().window_seconds)
