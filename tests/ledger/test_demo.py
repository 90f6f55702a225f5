from ledger import clock
from ledger.accounts import create_account
from ledger.actors import Actor
from ledger.courses import upsert_course
from ledger.demo import load_demo
from ledger.users import sign_in
from models import Account, ApprovalMode, Course, Lot, Redemption, RedemptionStatus
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
    again = await load_demo()
    account = await Account.get()
    assert again.startswith(
        f"demo is already loaded: account 'Platform Engineering' (id {account.id}"
    )
    assert "owned by ann@example.com and bob@example.com" in again
    assert "credits token --email ann@example.com" in again
    assert await Account.all().count() == 1
    assert clock.now().year >= 2026
    await assert_ledger_invariants()


async def test_on_a_database_with_data_the_demo_takes_its_own_owners_and_keeps_the_catalogue():
    ann = Actor(user=await sign_in(sub="idp|ann", email="ann@example.com", name="Ann Real"))
    theirs = await create_account(actor=ann, name="Real team", approval_mode=ApprovalMode.MANUAL)
    support = Actor(user=await sign_in(sub="idp|s", email="s@x.example", name="S"), is_support=True)
    await upsert_course(actor=support, sku="JIRA-FUND", title="Our Jira course", price_credits=99)

    message = await load_demo()
    assert "owned by ann+demo1@example.com and bob+demo1@example.com" in message
    assert "credits token --email ann+demo1@example.com" in message
    assert await Account.all().count() == 2
    assert (await Account.get(id=theirs.id)).name == "Real team"
    course = await Course.get(sku="JIRA-FUND")
    assert (course.title, course.price_credits) == ("Our Jira course", 99)
    assert "is already loaded" in await load_demo()
    await assert_ledger_invariants()
