"""Transactions with retry, and row locks taken in one order.

Lock order, everywhere: the account row, then redemptions by id, then lots in draw
order. PostgreSQL serialization failures and deadlocks are retried; SQLite drops
`FOR UPDATE`, and Tortoise's SQLite client runs one transaction at a time.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TypeVar

from tortoise import connections
from tortoise.transactions import in_transaction

from ledger import clock
from ledger.errors import NotFound
from models import Account

T = TypeVar("T")
RETRYABLE_SQLSTATES = {"40001", "40P01"}
MAX_ATTEMPTS = 6


def is_postgres() -> bool:
    return bool(connections.get("default").capabilities.dialect == "postgres")


def _is_retryable(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return True
        wrapped = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = seen.__cause__ or wrapped
    return False


async def retried(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` (one transaction, or one statement that is its own) again on
    serialization failures and deadlocks."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await work()
        except Exception as exc:  # asyncpg's own errors are not all translated by Tortoise
            if attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


async def atomic(work: Callable[[], Awaitable[T]]) -> T:
    """Run `work` in one transaction, retrying serialization failures and deadlocks."""

    async def in_one_transaction() -> T:
        async with in_transaction():
            return await work()

    return await retried(in_one_transaction)


_LOCK_ACCOUNTS = 'SELECT id FROM "account" WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE'


async def at_locked_accounts(
    account_ids: Iterable[int], work: Callable[[datetime], Awaitable[T]]
) -> T:
    """PostgreSQL: in one transaction, lock the accounts (in id order, first in the lock
    order), then `work(now)` with the clock read only once they are held, as the Python
    path reads it: a request that waited for an account never decides at a time before
    the one that held it (an expired lot is never drawn). Retried like `atomic`."""
    wanted = sorted(set(account_ids))

    async def locked() -> T:
        async with in_transaction() as transaction:
            await transaction.execute_query(_LOCK_ACCOUNTS, [wanted])
            return await work(clock.now())

    return await retried(locked)


async def lock_account(account_id: int) -> Account:
    """Lock the account row for the rest of the transaction (first in the lock order).

    An account is never deleted, so callers pass the id of one that exists; a missing
    one answers NOT_FOUND all the same.

    FOR NO KEY UPDATE: rows that reference the account (a purchase, a lot) take
    FOR KEY SHARE on it for their foreign key, which FOR UPDATE would conflict with,
    deadlocking two writers that each inserted a row before locking.
    """
    account = await Account.select_for_update(no_key=True).get_or_none(id=account_id)
    if account is None:
        raise NotFound("no such account", field=["accountId"])
    return account
