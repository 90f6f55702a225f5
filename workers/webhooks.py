"""Sending one webhook attempt over HTTP (decision 31).

`deliver_webhook(delivery_id)` claims the delivery's due attempt, POSTs the event's
stored body to the address its host resolved to (checked, in production, to be public),
signed with the endpoint's secret, and records what came back: at most 1 KB of the
answer, within WEBHOOK_TIMEOUT_SECONDS. Redirects are not followed; proxies from the
environment are not used. Only 2xx counts as delivered.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from ledger import clock, webhook_deliveries
from ledger.webhook_deliveries import MAX_RESPONSE_BYTES, Attempt, Outcome
from ledger.webhook_targets import TargetRefused, pin
from ledger.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header
from settings import Settings, get_settings

log = logging.getLogger("credits.webhooks")
USER_AGENT = "TrainingCredits-Webhooks/1"


async def _start_of(response: httpx.Response) -> str:
    """At most MAX_RESPONSE_BYTES of the answer; the rest is never read."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk
        if len(kept) >= MAX_RESPONSE_BYTES:
            break
    return kept[:MAX_RESPONSE_BYTES].decode(errors="replace")


async def send(attempt: Attempt, settings: Settings) -> Outcome:
    """POST the attempt's event; what the endpoint answered, or why nothing was sent."""
    try:
        target = await pin(attempt.url, settings)
    except TargetRefused as exc:
        return Outcome(error=f"refused: {exc}")
    body = attempt.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": target.host_header,
        SIGNATURE_HEADER: signature_header(attempt.secret, int(clock.now().timestamp()), body),
        EVENT_ID_HEADER: attempt.event_id,
        "Credits-Event-Type": attempt.event_type,
    }
    extensions = {"sni_hostname": target.server_name} if target.server_name else {}
    limit = settings.webhook_timeout_seconds
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        async with (
            asyncio.timeout(limit),
            httpx.AsyncClient(timeout=limit, trust_env=False, follow_redirects=False) as client,
        ):
            request = client.build_request(
                "POST", target.url, content=body, headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                answer = await _start_of(response)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(error=f"no answer within {limit:g} s", elapsed_ms=elapsed())
    except httpx.HTTPError as exc:
        return Outcome(error=f"{type(exc).__name__}: {exc}", elapsed_ms=elapsed())
    code = response.status_code
    error = None if 200 <= code < 300 else f"answered HTTP {code}"
    return Outcome(status_code=code, body=answer, error=error, elapsed_ms=elapsed())


async def deliver_webhook(delivery_id: int, *, settings: Settings | None = None) -> None:
    """Make the delivery's due attempt, if it still has one; running it twice is safe."""
    settings = settings or get_settings()
    attempt = await webhook_deliveries.claim(delivery_id, settings=settings)
    if attempt is None:
        return
    outcome = await send(attempt, settings)
    status = await webhook_deliveries.record(attempt, outcome, settings=settings)
    log.info(
        "webhook delivery %s attempt %d: %s (%s)",
        delivery_id,
        attempt.number,
        status.value,
        outcome.error or outcome.status_code,
    )
