"""The database itself refuses writes that break the ledger's invariants."""

import pytest
from tortoise.exceptions import IntegrityError, OperationalError

from ledger import clock
from ledger.accounts import create_account
from ledger.actors import Actor
from ledger.purchases import purchase_credits
from ledger.users import sign_in
from models import ApprovalMode, EntryKind, LedgerEntry, Lot, Ownership, Purchase

REFUSED = (IntegrityError, OperationalError)


@pytest.fixture
async def funded():
    user = await sign_in(sub="s1", email="ann@example.com", name="Ann")
    actor = Actor(user=user)
    account = await create_account(actor=actor, name=None, approval_mode=ApprovalMode.AUTOMATIC)
    await purchase_credits(
        actor=actor, account_id=None, credits=100, payment_token="tok_visa", idempotency_key="k"
    )
    return account, await Lot.get()


async def test_remaining_never_below_zero_or_above_credits(funded):
    _, lot = funded
    with pytest.raises(REFUSED):
        await Lot.filter(id=lot.id).update(remaining=-1)
    with pytest.raises(REFUSED):
        await Lot.filter(id=lot.id).update(remaining=101)
    assert (await Lot.get(id=lot.id)).remaining == 100


async def test_ledger_entries_are_immutable(funded):
    entry = await LedgerEntry.get()
    with pytest.raises(REFUSED):
        await LedgerEntry.filter(id=entry.id).update(credits=5)
    assert (await LedgerEntry.get(id=entry.id)).credits == 100


async def test_entry_sign_must_match_its_kind_and_balance_never_negative(funded):
    account, lot = funded
    for kind, credits, balance_after in [
        (EntryKind.REDEMPTION, 10, 90),
        (EntryKind.PURCHASE, -10, 90),
        (EntryKind.EXTENSION, 0, 100),
        (EntryKind.REDEMPTION, -10, -1),
    ]:
        with pytest.raises(REFUSED):
            await LedgerEntry.create(
                account=account,
                lot=lot,
                kind=kind,
                credits=credits,
                balance_after=balance_after,
                created_at=clock.now(),
            )


async def test_purchase_amount_is_exactly_credits_times_unit_price(funded):
    purchase = await Purchase.get()
    with pytest.raises(REFUSED):
        await Purchase.filter(id=purchase.id).update(amount_cents=1)


async def test_one_account_per_user(funded):
    account, _ = funded
    owner = await Ownership.get()
    with pytest.raises(IntegrityError):
        await Ownership.create(account=account, user_id=owner.user_id, created_at=clock.now())
