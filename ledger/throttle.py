"""Brute-force protection for redemption codes.

Wrong codes are counted per user and per client address in fixed windows (decision 18):

- Every attempt takes one of the user's attempts before the code is looked up, in one
  atomic step, and a right code gives it back. A user with none left is RATE_LIMITED
  until the window ends, whatever the code; concurrent attempts cannot overrun the limit.
- An address over its limit blocks no valid code. A wrong code from it answers
  RATE_LIMITED and uses up the rest of that user's attempts: each user behind a guessing
  address gets one guess per window instead of the per-user limit.

Counters live in Redis when REDIS_URL is set, so all server processes share them. When
Redis fails or answers slowly, this process counts in its own memory for a while (logged,
and counted in `credits_code_throttle_fallbacks_total`) rather than refusing checkouts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter as Metric

from ledger.errors import RateLimited
from settings import get_settings

log = logging.getLogger("credits.throttle")

# A Redis call slower than this counts as a failure: a checkout must not wait on it.
REDIS_TIMEOUT = 0.25
# After a failure, Redis is tried again this much later; calls in between count locally.
REDIS_RETRY_SECONDS = 5.0
REDIS_CONNECTIONS = 50  # per process

FALLBACKS = Metric(
    "credits_code_throttle_fallbacks_total",
    "Wrong-code throttle counts kept in process memory because Redis failed or was slow",
)


class Counter(Protocol):
    async def add(self, key: str, amount: int, window_seconds: int) -> int:
        """Add `amount` (never going below zero) in one atomic step and answer the count.

        The first addition starts the key's window; a subtraction never creates a key.
        """
        ...


class MemoryCounter:
    """Counts in this process. Each addition is one step with no await in it, so
    concurrent requests on the event loop cannot interleave; windows that ended are
    dropped at most once per window length."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, float]] = {}
        self._sweep_at = 0.0

    def __len__(self) -> int:
        return len(self._counts)

    async def add(self, key: str, amount: int, window_seconds: int) -> int:
        now = time.monotonic()
        if now >= self._sweep_at:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            self._sweep_at = now + window_seconds
        count, until = self._counts.get(key, (0, 0.0))
        if until <= now:
            if amount <= 0:
                return 0
            count, until = 0, now + window_seconds
        count = max(0, count + amount)
        self._counts[key] = (count, until)
        return count


_ADD = """
local amount = tonumber(ARGV[1])
if amount <= 0 then
  local current = tonumber(redis.call('GET', KEYS[1]) or '0')
  if current <= 0 then return 0 end
  return redis.call('DECRBY', KEYS[1], math.min(current, -amount))
end
local count = redis.call('INCRBY', KEYS[1], amount)
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return count
"""


class RedisCounter:
    def __init__(self, url: str, timeout: float = REDIS_TIMEOUT) -> None:
        import redis.asyncio as redis

        # A burst of checkouts waits briefly for a connection instead of failing at once.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_CONNECTIONS,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._add: Any = self._redis.register_script(_ADD)

    async def add(self, key: str, amount: int, window_seconds: int) -> int:
        return int(await self._add(keys=[key], args=[amount, window_seconds]))


class FallbackCounter:
    """Redis, or this process's memory while Redis fails or is slow."""

    def __init__(self, primary: Counter, timeout: float = REDIS_TIMEOUT) -> None:
        self.primary = primary
        self.local = MemoryCounter()
        self._timeout = timeout
        self._retry_at = 0.0

    async def add(self, key: str, amount: int, window_seconds: int) -> int:
        if time.monotonic() >= self._retry_at:
            try:
                async with asyncio.timeout(self._timeout):
                    count = await self.primary.add(key, amount, window_seconds)
            except Exception as exc:  # any Redis failure: count locally rather than refuse
                self._retry_at = time.monotonic() + REDIS_RETRY_SECONDS
                log.warning(
                    "code throttle: Redis failed (%r); counting in this process for %.0f s",
                    exc,
                    REDIS_RETRY_SECONDS,
                )
            else:
                if self._retry_at:
                    self._retry_at = 0.0
                    log.warning("code throttle: Redis answers again")
                return count
        FALLBACKS.inc()
        return await self.local.add(key, amount, window_seconds)


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
        _counter = FallbackCounter(RedisCounter(url)) if url else MemoryCounter()
    return _counter


def set_counter(value: Counter | None) -> None:
    global _counter
    _counter = value


def limits() -> Limits:
    s = get_settings()
    return Limits(s.code_attempts_per_user, s.code_attempts_per_address, s.code_attempts_window)


def _key(kind: str, who: object) -> str:
    # Namespaced: deployments sharing one Redis database must not share counts.
    return f"{get_settings().redis_namespace}:badcode:{kind}:{who}"


def _user_key(user_id: int) -> str:
    return _key("user", user_id)


def _too_many() -> RateLimited:
    return RateLimited("too many wrong redemption codes; try again later", field=["code"])


async def take_code_attempt(*, user_id: int) -> None:
    """Take one of the user's attempts before their code is looked up."""
    lim = limits()
    if await counter().add(_user_key(user_id), 1, lim.window_seconds) > lim.per_user:
        raise _too_many()


async def return_code_attempt(*, user_id: int) -> None:
    """The code was right: it does not count."""
    await counter().add(_user_key(user_id), -1, limits().window_seconds)


async def record_wrong_code(*, user_id: int, address: str) -> None:
    """Count a wrong code at the address; over the address's limit it is RATE_LIMITED
    and the user has no attempt left this window."""
    if not address:
        return
    lim = limits()
    key = _key("addr", address)
    if await counter().add(key, 1, lim.window_seconds) > lim.per_address:
        await counter().add(_user_key(user_id), lim.per_user, lim.window_seconds)
        raise _too_many()
