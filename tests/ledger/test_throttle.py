"""Wrong redemption codes: per user and per address, in windows that end."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from ledger import throttle
from ledger.errors import RateLimited


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
        else throttle.RedisCounter(os.environ["REDIS_URL"])
    )
    monkeypatch.setattr(throttle, "_counter", made)
    monkeypatch.setattr(throttle, "limits", lambda: throttle.Limits(3, 5, 1))
    return made


async def test_per_user_and_per_address_limits_then_cooling_off(counter):
    address = f"198.51.100.{uuid.uuid4().int % 250}"
    user_a, user_b = uuid.uuid4().int % 10**9, uuid.uuid4().int % 10**9
    for _ in range(3):
        await throttle.check_code_attempts(user_id=user_a, address=address)
        await throttle.record_wrong_code(user_id=user_a, address=address)
    with pytest.raises(RateLimited):
        await throttle.check_code_attempts(user_id=user_a, address=address)
    # Another user from the same address may try until the address's limit.
    for _ in range(2):
        await throttle.check_code_attempts(user_id=user_b, address=address)
        await throttle.record_wrong_code(user_id=user_b, address=address)
    with pytest.raises(RateLimited):
        await throttle.check_code_attempts(user_id=user_b, address=address)
    await throttle.check_code_attempts(user_id=user_b, address="203.0.113.9")

    await asyncio.sleep(1.2)  # the window ends: the cooling-off is over
    await throttle.check_code_attempts(user_id=user_a, address=address)
