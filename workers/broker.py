"""The dramatiq broker on Redis, built only where it is used.

An API process that only enqueues builds a bare one; `credits worker` adds the
middleware that runs async jobs and opens the database (`workers.worker`). Nothing here
runs at import time. Queues and keys live under REDIS_NAMESPACE, so two deployments can
share one Redis database.
"""

from __future__ import annotations

from dramatiq.brokers.redis import RedisBroker

from settings import ConfigurationError, Settings


def make_broker(settings: Settings) -> RedisBroker:
    if not settings.redis_url:
        raise ConfigurationError("the dramatiq broker needs REDIS_URL")
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.redis_url, namespace=settings.redis_namespace
    )
