"""Depth and alias limits: linear in the document, whatever its fragments do.

Each document below is about a kilobyte: fragment Fi spreads F(i+1) twice, so a walk that
follows every spread visits the last fragment 2**levels times.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.helpers import asgi_app
from tests.live import LoggedServer

BOUND = 2.0  # seconds; a walk that doubles per level takes hours at 30 levels, not 2 s

# Lists nested past graphql-core's MaxIntrospectionDepthRule (an `ofType` chain is not: the
# standard introspection queries need one, and the depth limit leaves it to that rule).
DEEP_INTROSPECTION = "__schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } }"  # noqa: E501


def doubling(levels: int, leaf: str = "__typename") -> str:
    fragments = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query Doubling {{ ...F0 }} {fragments} fragment F{levels} on Query {{ {leaf} }}"


def chain(length: int) -> str:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(length))
    return f"{{ ...F0 }} {fragments} fragment F{length} on Query {{ __typename }}"


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fails a step that overruns, even one that never yields to the event loop."""

    def expired(*_: Any) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


async def _post(query: str, base_url: str | None = None) -> httpx.Response:
    if base_url:
        client = httpx.AsyncClient(base_url=base_url, timeout=BOUND)
    else:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
        )
    async with client:
        return await client.post("/graphql", json={"query": query})


CASES = [
    pytest.param(30, "__typename", None, id="30-levels-answered"),
    pytest.param(40, "__typename", None, id="40-levels-answered"),
    pytest.param(40, "a: __typename", "1099511627776 aliases found. Allowed: 30", id="aliases"),
    pytest.param(40, DEEP_INTROSPECTION, "Maximum introspection depth exceeded", id="depth"),
]


@pytest.mark.parametrize(("levels", "leaf", "refusal"), CASES)
async def test_nested_fragments_are_measured_in_linear_time(levels, leaf, refusal):
    started = time.perf_counter()
    with deadline(BOUND):
        body = (await _post(doubling(levels, leaf))).json()
    assert time.perf_counter() - started < BOUND
    if refusal is None:
        assert body == {"data": {"__typename": "Query"}}
    else:
        assert body["data"] is None
        assert refusal in body["errors"][0]["message"]


async def test_long_fragment_chains_are_answered_or_refused_quickly():
    with deadline(BOUND):
        assert (await _post(chain(150))).json() == {"data": {"__typename": "Query"}}
        # graphql-core refuses nesting beyond 200 levels, through fragments too.
        body = (await _post(chain(210))).json()
    assert body == {"data": None, "errors": [{"message": "Validation aborted."}]}


async def test_aliases_are_still_counted_through_fragments():
    aliased = " ".join(f"a{i}: __typename" for i in range(16))
    twice = f"{{ ...A ...A }} fragment A on Query {{ {aliased} }}"
    body = (await _post(twice)).json()
    assert body["errors"][0]["message"] == "32 aliases found. Allowed: 30"
    once = f"{{ ...A }} fragment A on Query {{ {aliased} }}"
    assert "errors" not in (await _post(once)).json()


async def test_a_fragment_cycle_is_refused_not_looped():
    body = (
        await _post("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
    ).json()
    assert body["errors"][0]["message"] == "Cannot spread fragment 'A' within itself via 'B'."


async def test_the_live_server_answers_quickly_and_keeps_answering_health_checks(
    logged_server: LoggedServer,
):
    """The one process that validates the document also answers /healthz meanwhile."""
    waits: list[float] = []

    async def health_checks(until: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=logged_server.base, timeout=BOUND) as http:
            while not until.is_set():
                started = time.perf_counter()
                assert (await http.get("/healthz")).text == "ok"
                waits.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)

    for levels, leaf in [(30, "__typename"), (40, "__typename"), (40, "a: __typename")]:
        done = asyncio.Event()
        checks = asyncio.create_task(health_checks(done))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        response = await _post(doubling(levels, leaf), logged_server.base)
        elapsed = time.perf_counter() - started
        done.set()
        await checks
        assert response.status_code == 200
        assert elapsed < BOUND
    assert waits and max(waits) < 0.5
