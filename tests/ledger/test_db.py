"""`atomic` retries deadlocks and serialization failures with a clean transaction."""

from __future__ import annotations

import asyncio

import pytest

from ledger import clock
from ledger.db import atomic, is_postgres
from models import Account, ApprovalMode, AuditEvent, User


async def _two_accounts() -> tuple[int, int]:
    user = await User.create(sub="s", email="a@example.com", name="A", created_at=clock.now())
    ids = []
    for i in range(2):
        account = await Account.create(
            name=f"A{i}",
            approval_mode=ApprovalMode.AUTOMATIC,
            code_hash=f"h{i}",
            code_ciphertext="c",
            created_by=user,
            created_at=clock.now(),
        )
        ids.append(account.id)
    return ids[0], ids[1]


async def test_a_deadlock_is_retried_and_only_the_winning_attempt_is_kept():
    if not is_postgres():
        pytest.skip("row locks and deadlocks exist on PostgreSQL only; SQLite runs one writer")
    first, second = await _two_accounts()
    attempts = {"a": 0, "b": 0}
    both_locked_one = asyncio.Barrier(2)

    def work(name: str, order: tuple[int, int]):  # type: ignore[no-untyped-def]
        async def run() -> str:
            attempts[name] += 1
            await AuditEvent.create(
                account_id=order[0], action=f"{name}-{attempts[name]}", created_at=clock.now()
            )
            await Account.select_for_update().get(id=order[0])
            if attempts[name] == 1:
                await both_locked_one.wait()
            await Account.select_for_update().get(id=order[1])
            return name

        return run

    results = await asyncio.gather(
        atomic(work("a", (first, second))), atomic(work("b", (second, first)))
    )
    assert sorted(results) == ["a", "b"]
    assert attempts["a"] + attempts["b"] == 3  # exactly one of them was retried
    actions = sorted([str(a) for a in await AuditEvent.all().values_list("action", flat=True)])
    retried = "a" if attempts["a"] == 2 else "b"
    assert retried + "-1" not in actions  # the failed attempt left nothing behind
    assert sorted(actions) == sorted(["a-" + str(attempts["a"]), "b-" + str(attempts["b"])])
