"""Two schedulers never send one job twice; the jobs run by hand work too."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from settings import Settings
from workers.jobs import JobName
from workers.scheduler import DatabaseTickLock, RedisTickLock, TickLock, build_scheduler, fire

NAMESPACE = f"test-{uuid.uuid4().hex[:8]}"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def send(self, job: JobName, *args: Any, attempt: int = 0) -> None:
        self.sent.append((job.value, args))


def _locks() -> list[Any]:
    return [
        pytest.param(lambda n: DatabaseTickLock(n), id="database"),
        pytest.param(
            # Redis outlives test runs: a fresh namespace each time.
            lambda n: RedisTickLock(os.environ["REDIS_URL"], n, namespace=NAMESPACE),
            id="redis",
            marks=pytest.mark.skipif(
                not os.environ.get("REDIS_URL"), reason="REDIS_URL is not set (CI sets it)"
            ),
        ),
    ]


@pytest.mark.parametrize("make_lock", _locks())
async def test_two_schedulers_on_one_tick_send_once(make_lock):
    recorder = Recorder()
    job = JobName.EXPIRE_LOTS
    tick = datetime(2031, 5, 4, 0, 15, tzinfo=UTC)
    first: TickLock = make_lock("scheduler-a")
    second: TickLock = make_lock("scheduler-b")
    sent = await asyncio.gather(fire(job, tick, recorder, first), fire(job, tick, recorder, second))
    assert sorted(sent) == [False, True]
    assert recorder.sent == [(job, ())]
    # The next night is a new tick.
    assert await fire(job, tick.replace(day=5), recorder, first)


def test_the_schedule_comes_from_settings():
    settings = Settings(expiry_cron="30 1 * * *", reminders_cron="0 9 * * 1-5")
    scheduler = build_scheduler(settings, Recorder(), DatabaseTickLock("t"))
    jobs = {job.id: str(job.trigger) for job in scheduler.get_jobs()}
    assert "hour='1'" in jobs["expire_lots"] and "minute='30'" in jobs["expire_lots"]
    assert "day_of_week='1-5'" in jobs["send_expiry_reminders"]
