"""Idempotent mutations: the first answer is stored with the effect and replayed.

The record is claimed by inserting it at the start of the effect's transaction, so
a concurrent duplicate waits on the unique index until the first commits (or rolls
back), then replays its stored answer. Input errors are raised before any of this.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from tortoise.exceptions import IntegrityError

from ledger import clock
from ledger.db import atomic
from ledger.errors import IdempotencyConflict, LedgerError
from ledger.text import clean_text
from models import IdempotencyRecord, limits

Response = dict[str, Any]


def request_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def validate_key(key: str) -> str:
    return clean_text(key, "idempotencyKey", min_length=1, max_length=limits.IDEMPOTENCY_KEY)


def _replay(record: IdempotencyRecord, digest: str) -> Response:
    if record.request_hash != digest:
        raise IdempotencyConflict(
            "this idempotency key was used with different input; use a new key",
            field=["idempotencyKey"],
        )
    return dict(record.response)


@dataclass(frozen=True)
class Attempt:
    """One call of an idempotent mutation: who called which operation with which key, and
    the input (`payload`) that tells a retry from another use of the same key."""

    user_id: int
    operation: str
    key: str
    payload: dict[str, Any]


async def stored_answer(attempt: Attempt) -> Response | None:
    """The answer already given for this key, if any, before the input is checked again.

    A retry must answer as the first time even when the world moved on since (the
    course was withdrawn, the code rotated).
    """
    existing = await IdempotencyRecord.get_or_none(
        user_id=attempt.user_id, operation=attempt.operation, key=attempt.key
    )
    return replay(attempt, existing) if existing is not None else None


def replay(attempt: Attempt, record: IdempotencyRecord) -> Response:
    """The answer `record` stored for `attempt`'s key, if the input is the same."""
    return _replay(record, request_hash(attempt.payload))


async def run_once(
    attempt: Attempt, effect: Callable[[], Awaitable[Response]], *, looked_up: bool = False
) -> Response:
    """Run `effect` once per (user, operation, key); a replayable LedgerError is stored too.

    `effect` runs inside the transaction and returns a JSON-able answer; a stored business
    error replays as `{"error": {...}, ...}`. `looked_up`: the caller has just asked
    `stored_answer` and found nothing (a record written since still wins: a unique index).
    """
    lookup = partial(stored_answer, attempt)
    if not looked_up and (stored := await lookup()) is not None:
        return stored

    async def claim_and_run() -> Response:
        record = await IdempotencyRecord.create(
            user_id=attempt.user_id,
            operation=attempt.operation,
            key=attempt.key,
            request_hash=request_hash(attempt.payload),
            response={},
            created_at=clock.now(),
        )
        response = await effect()
        record.response = response
        await record.save(update_fields=["response"])
        return response

    try:
        return await atomic(claim_and_run)
    except IntegrityError:
        # A concurrent duplicate claimed the key first: answer as it did.
        if (stored := await lookup()) is None:
            raise
        return stored


def raise_stored_error(response: Response) -> None:
    if "error" in response:
        raise LedgerError.from_dict(response["error"])
