from ledger import clock
from ledger.demo import load_demo
from models import Account, Lot, Redemption, RedemptionStatus
from tests.invariants import assert_ledger_invariants


async def test_demo_loads_a_realistic_account_once():
    message = await load_demo()
    assert "Platform Engineering" in message
    assert await Account.all().count() == 1
    assert await Lot.all().count() == 3
    statuses = {r.status for r in await Redemption.all()}
    assert statuses == {
        RedemptionStatus.APPROVED,
        RedemptionStatus.PENDING,
        RedemptionStatus.DENIED,
        RedemptionStatus.CANCELLED,
    }
    assert await load_demo() == "the demo data is already loaded"
    assert clock.now().year >= 2026
    await assert_ledger_invariants()
