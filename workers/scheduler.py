"""The scheduler: on each cron tick it sends one message per job, once.

Two schedulers may run (a rolling deploy, a mistake): each tick takes a lock named after
the job and the tick's time first — a Redis `SET NX EX` when REDIS_URL is set, else a
lease row in the database — so only one of them sends. The jobs are idempotent anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from tortoise.exceptions import IntegrityError

from ledger import clock
from models import JobLease
from settings import Settings
from workers.dispatch import Dispatcher
from workers.jobs import JobName

log = logging.getLogger("credits.scheduler")
LOCK_SECONDS = 6 * 3600


class TickLock(Protocol):
    async def acquire(self, name: str) -> bool: ...


class RedisTickLock:
    def __init__(self, url: str, holder: str, *, namespace: str = "credits") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self.holder = holder
        self.namespace = namespace

    async def acquire(self, name: str) -> bool:
        key = f"{self.namespace}:tick:{name}"
        return bool(await self._redis.set(key, self.holder, nx=True, ex=LOCK_SECONDS))


class DatabaseTickLock:
    """A lease row per tick: its primary key makes the second insert fail."""

    def __init__(self, holder: str) -> None:
        self.holder = holder

    async def acquire(self, name: str) -> bool:
        now = clock.now()
        await JobLease.filter(expires_at__lt=now).delete()
        try:
            await JobLease.create(
                name=name[:64],
                holder=self.holder[:128],
                expires_at=now + timedelta(seconds=LOCK_SECONDS),
            )
        except IntegrityError:
            return False
        return True


def tick_lock(settings: Settings, holder: str) -> TickLock:
    return (
        RedisTickLock(settings.redis_url, holder, namespace=settings.redis_namespace)
        if settings.redis_url
        else DatabaseTickLock(holder)
    )


async def fire(job: JobName, tick: datetime, dispatcher: Dispatcher, lock: TickLock) -> bool:
    """Send `job` for the tick at `tick` unless another scheduler already did."""
    name = f"{job}@{tick.strftime('%Y%m%dT%H%M')}"
    if not await lock.acquire(name):
        log.info("%s: another scheduler sent it", name)
        return False
    await dispatcher.send(job)
    log.info("%s: sent", name)
    return True


def build_scheduler(settings: Settings, dispatcher: Dispatcher, lock: TickLock) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    for job, cron in (
        (JobName.EXPIRE_LOTS, settings.expiry_cron),
        (JobName.SEND_EXPIRY_REMINDERS, settings.reminders_cron),
    ):
        trigger = CronTrigger.from_crontab(cron, timezone="UTC")

        async def run(job: JobName = job) -> None:
            tick = clock.now().replace(second=0, microsecond=0)
            await fire(job, tick, dispatcher, lock)

        scheduler.add_job(
            run, trigger, id=job, coalesce=True, max_instances=1, misfire_grace_time=3600
        )
    return scheduler
