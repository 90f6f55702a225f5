"""Fixtures of the worker tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import started
from tests.workers.redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server that the test may stop and start again."""
    with started(RedisServer()) as server:
        yield server
