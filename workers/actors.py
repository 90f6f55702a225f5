"""The entry point `credits worker` gives dramatiq: one actor per job of `workers.jobs`.

Importing this module builds the Redis broker and declares the actors, which is what
dramatiq's command line expects of the module it is given; nothing else imports it.
"""

from __future__ import annotations

import dramatiq

from settings import get_settings
from workers.broker import make_worker_broker
from workers.jobs import Job, registry

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
