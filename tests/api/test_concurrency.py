"""Concurrent requests from separate HTTP clients against a running server.

On PostgreSQL the server runs two worker processes; the invariants are checked in the
database afterwards.
"""

from __future__ import annotations

import asyncio

from models import Account, Lot, Ownership, Purchase
from tests.helpers import CREATE_ACCOUNT, buy, create_account
from tests.invariants import assert_ledger_invariants

REMOVE = """
mutation($email: String!) {
  removeAccountOwner(input: {email: $email}) { account { id } errors { code } }
}"""
ADD = """
mutation($email: String!) {
  addAccountOwner(input: {email: $email}) { account { id } errors { code } }
}"""


async def test_ten_concurrent_purchases_with_one_key_make_one_lot(http_factory):
    ann = http_factory("ann@example.com", "Ann")
    await create_account(ann)
    answers = await asyncio.gather(*[buy(ann, 2_500, "one-key") for _ in range(10)])
    assert all(a == answers[0] for a in answers)
    assert answers[0]["purchase"]["status"] == "PAID"
    assert await Purchase.all().count() == 1
    assert await Lot.all().count() == 1
    assert (await Lot.get()).remaining == 2_500
    await assert_ledger_invariants()


async def test_concurrent_purchases_with_distinct_keys_all_count(http_factory):
    ann = http_factory("ann@example.com", "Ann")
    await create_account(ann)
    answers = await asyncio.gather(*[buy(ann, 10 * (i + 1), f"k{i}") for i in range(20)])
    assert all(a["errors"] == [] for a in answers)
    assert sum(lot.remaining for lot in await Lot.all()) == sum(10 * (i + 1) for i in range(20))
    await assert_ledger_invariants()


async def test_two_owners_removing_each_other_never_leave_none(http_factory):
    pairs = []
    for i in range(8):
        first = http_factory(f"first{i}@example.com")
        second_email = f"second{i}@example.com"
        await create_account(first)
        await first.mutate("addAccountOwner", ADD, {"email": second_email})
        pairs.append((first, http_factory(second_email), f"first{i}@example.com", second_email))
    results = await asyncio.gather(
        *[
            call
            for first, second, first_email, second_email in pairs
            for call in (
                first.mutate("removeAccountOwner", REMOVE, {"email": second_email}),
                second.mutate("removeAccountOwner", REMOVE, {"email": first_email}),
            )
        ]
    )
    for i in range(0, len(results), 2):
        outcomes = sorted(
            (r["errors"][0]["code"] if r["errors"] else "OK") for r in results[i : i + 2]
        )
        # One removal wins; the other finds itself no longer an owner, or the last one.
        assert outcomes[0] in ("LAST_OWNER", "NOT_FOUND") and outcomes[1] == "OK", outcomes
    for account in await Account.all():
        assert await Ownership.filter(account_id=account.id).count() == 1


async def test_one_user_creating_accounts_at_once_gets_one(http_factory):
    ann = http_factory("ann@example.com", "Ann")
    answers = await asyncio.gather(
        *[
            ann.mutate("createAccount", CREATE_ACCOUNT, {"input": {"name": f"A{i}"}})
            for i in range(6)
        ]
    )
    codes = sorted(a["errors"][0]["code"] if a["errors"] else "OK" for a in answers)
    assert codes == ["ALREADY_OWNS_ACCOUNT"] * 5 + ["OK"]
    assert await Account.all().count() == 1


async def test_one_person_added_to_two_accounts_at_once_owns_one(http_factory):
    ann, bob = http_factory("ann@example.com"), http_factory("bob@example.com")
    await create_account(ann)
    await create_account(bob)
    answers = await asyncio.gather(
        ann.mutate("addAccountOwner", ADD, {"email": "cleo@example.com"}),
        bob.mutate("addAccountOwner", ADD, {"email": "cleo@example.com"}),
    )
    codes = sorted(a["errors"][0]["code"] if a["errors"] else "OK" for a in answers)
    assert codes == ["ALREADY_OWNS_ACCOUNT", "OK"]
    assert await Ownership.filter(user__email="cleo@example.com").count() == 1
