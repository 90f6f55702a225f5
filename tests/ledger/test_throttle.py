"""Wrong redemption codes: per user and per address, in windows that end; atomic under
concurrency; counted in memory when Redis is down or hangs."""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from ledger import throttle
from ledger.errors import RateLimited
from settings import Settings
from tests.redis_process import RedisServer, running_redis

LIMITS = throttle.Limits(per_user=3, per_address=5, window_seconds=1)


def _counters() -> list[object]:
    params: list[object] = [pytest.param("memory", id="memory")]
    params.append(
        pytest.param(
            "redis",
            id="redis",
            marks=pytest.mark.skipif(
                not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (CI sets it)"
            ),
        )
    )
    return params


@pytest.fixture(params=_counters())
def counter(request, monkeypatch):
    made = (
        throttle.MemoryCounter()
        if request.param == "memory"
        # Generous timeouts: these tests are about the counting rules; a call slowed by a
        # busy machine must not fall back to memory (the fallback has tests of its own).
        else throttle.FallbackCounter(
            throttle.RedisCounter(os.environ["REDIS_URL"], timeout=10), timeout=10
        )
    )
    monkeypatch.setattr(throttle, "_counter", made)
    monkeypatch.setattr(throttle, "limits", lambda: LIMITS)
    return made


def _ids() -> tuple[int, str]:
    return uuid.uuid4().int % 10**9, f"198.51.100.{uuid.uuid4().int % 250}"


async def _wrong(user_id: int, address: str) -> None:
    await throttle.take_code_attempt(user_id=user_id)
    await throttle.record_wrong_code(user_id=user_id, address=address)


async def test_per_user_limit_then_cooling_off(counter):
    user, address = _ids()
    for _ in range(3):
        await _wrong(user, address)
    with pytest.raises(RateLimited):
        await throttle.take_code_attempt(user_id=user)
    await asyncio.sleep(1.2)  # the window ends: the cooling-off is over
    await throttle.take_code_attempt(user_id=user)


async def test_right_codes_do_not_count(counter):
    user, _ = _ids()
    for _ in range(10):
        await throttle.take_code_attempt(user_id=user)
        await throttle.return_code_attempt(user_id=user)
    await throttle.take_code_attempt(user_id=user)


async def test_an_address_over_its_limit_refuses_wrong_codes_not_attempts(counter):
    _, address = _ids()
    guessers = [uuid.uuid4().int % 10**9 for _ in range(3)]
    for user in guessers[:2]:
        for _ in range(2):
            await _wrong(user, address)
    await _wrong(guessers[2], address)  # the address's fifth wrong code: still allowed
    # Over the address's limit, anyone may still try (a right code would succeed)...
    learner = uuid.uuid4().int % 10**9
    await throttle.take_code_attempt(user_id=learner)
    await throttle.return_code_attempt(user_id=learner)
    # ...but a wrong code is refused and uses up that user's attempts for the window.
    await throttle.take_code_attempt(user_id=learner)
    with pytest.raises(RateLimited):
        await throttle.record_wrong_code(user_id=learner, address=address)
    with pytest.raises(RateLimited):
        await throttle.take_code_attempt(user_id=learner)


async def test_concurrent_attempts_cannot_overrun_the_limit(counter):
    user, _ = _ids()
    outcomes = await asyncio.gather(
        *(throttle.take_code_attempt(user_id=user) for _ in range(200)), return_exceptions=True
    )
    assert sum(o is None for o in outcomes) == 3
    assert all(isinstance(o, RateLimited) for o in outcomes if o is not None)


async def test_memory_forgets_windows_that_ended():
    memory = throttle.MemoryCounter()
    for i in range(1000):
        await memory.add(f"k{i}", 1, 1)
    assert len(memory) == 1000
    await asyncio.sleep(1.1)
    assert await memory.add("k0", 1, 1) == 1  # a new window
    assert len(memory) == 1


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with running_redis() as server:
        yield server


def _fallbacks() -> float:
    return REGISTRY.get_sample_value("credits_code_throttle_fallbacks_total") or 0.0


@pytest.mark.parametrize("failure", ["stopped", "hanging"])
async def test_redis_down_or_hanging_counts_in_memory_quickly(
    redis_server, failure, monkeypatch, caplog
):
    counter = throttle.FallbackCounter(throttle.RedisCounter(redis_server.url))
    monkeypatch.setattr(throttle, "_counter", counter)
    monkeypatch.setattr(throttle, "limits", lambda: LIMITS)
    user, address = _ids()
    await _wrong(user, address)  # counted in Redis
    if failure == "stopped":
        redis_server.stop()
    else:
        redis_server.freeze()
    before = _fallbacks()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="credits.throttle"):
        for _ in range(3):  # memory starts its own count: three more wrong codes
            await _wrong(user, address)
        with pytest.raises(RateLimited):
            await throttle.take_code_attempt(user_id=user)
    assert time.monotonic() - started < 1.0
    assert _fallbacks() - before == 7
    assert "counting in this process" in caplog.text
    if failure == "hanging":
        redis_server.thaw()


async def test_deployments_sharing_one_redis_count_apart(redis_server, monkeypatch):
    monkeypatch.setattr(throttle, "_counter", throttle.RedisCounter(redis_server.url))
    monkeypatch.setattr(throttle, "limits", lambda: LIMITS)
    user, address = _ids()
    blue, green = Settings(redis_namespace="blue"), Settings(redis_namespace="green")
    monkeypatch.setattr(throttle, "get_settings", lambda: blue)
    for _ in range(3):
        await _wrong(user, address)
    with pytest.raises(RateLimited):
        await throttle.take_code_attempt(user_id=user)
    monkeypatch.setattr(throttle, "get_settings", lambda: green)  # the same user id elsewhere
    await throttle.take_code_attempt(user_id=user)
