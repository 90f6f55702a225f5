"""Sample data for a new developer: a catalogue, an account, lots and redemptions.

Everything goes through the ledger's own rules; the clock is moved back so that the
lots have different ages and one is close to expiry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger import accounts, clock, courses, purchases, redemptions
from ledger.actors import Actor
from ledger.users import sign_in
from models import ApprovalMode, Ownership, User

CATALOGUE = [
    ("JIRA-FUND", "Jira Fundamentals", 150),
    ("JIRA-ADMIN", "Jira Cloud Administration", 450),
    ("CONF-TEAMS", "Confluence for Teams", 120),
    ("AGILE-SCRUM", "Running Scrum with Jira", 300),
    ("JSM-AGENT", "Service Management for Agents", 250),
    ("CLOUD-MIGR", "Planning a Cloud Migration", 900),
    ("AUTOMATION", "Automation Rules in Practice", 200),
    ("CERT-ADMIN", "Certified Administrator Exam", 1_200),
]
LEARNERS = [
    ("priya@example.com", "Priya Shah"),
    ("tom@example.com", "Tom Becker"),
    ("lena@example.com", "Lena Novak"),
    ("omar@example.com", "Omar Haddad"),
    ("kim@example.com", "Kim Lee"),
    ("sara@example.com", "Sara Costa"),
]


def _frozen(moment: datetime) -> clock.Clock:
    return lambda: moment


async def _user(email: str, name: str) -> User:
    return await sign_in(sub=f"local|{email}", email=email, name=name)


async def load_demo() -> str:
    """Load the sample data once; answer what was done."""
    ann = await _user("ann@example.com", "Ann Owner")
    if await Ownership.exists(user_id=ann.id):
        return "the demo data is already loaded"
    real_now = clock.now()
    support = Actor(user=await _user("support@example.com", "Sam Support"), is_support=True)
    catalogue = {
        sku: await courses.upsert_course(actor=support, sku=sku, title=title, price_credits=price)
        for sku, title, price in CATALOGUE
    }
    owner = Actor(user=ann)
    account = await accounts.create_account(
        actor=owner, name="Platform Engineering", approval_mode=ApprovalMode.AUTOMATIC
    )
    await accounts.add_owner(actor=owner, account_id=account.id, email="bob@example.com")
    for days_ago, credits, promo in [
        (335, 5_000, None),
        (180, 20_000, "twentyoffTC"),
        (30, 3_500, None),
    ]:
        clock.set_clock(_frozen(real_now - timedelta(days=days_ago)))
        await purchases.purchase_credits(
            actor=owner,
            account_id=account.id,
            credits=credits,
            promo_code=promo,
            payment_token="tok_visa",
            idempotency_key=f"demo-{days_ago}",
        )
    clock.set_clock(_frozen(real_now - timedelta(days=20)))
    code = accounts.display_code(account)
    learners = [Actor(user=await _user(email, name)) for email, name in LEARNERS]
    for i, sku in enumerate(["JIRA-FUND", "CONF-TEAMS", "AGILE-SCRUM", "JSM-AGENT"]):
        await redemptions.redeem_credits(
            actor=learners[i], code=code, course_id=catalogue[sku].id, idempotency_key="demo"
        )
    clock.set_clock(None)
    await accounts.update_account(
        actor=owner,
        account_id=account.id,
        approval_mode=ApprovalMode.MANUAL,
        auto_approve_limit=150,
    )
    waiting = []
    for i, sku in [(4, "CLOUD-MIGR"), (5, "JIRA-ADMIN"), (0, "CERT-ADMIN"), (1, "AUTOMATION")]:
        waiting.append(
            await redemptions.redeem_credits(
                actor=learners[i],
                code=code,
                course_id=catalogue[sku].id,
                idempotency_key=f"demo-{sku}",
            )
        )
    await redemptions.decide_redemptions(actor=owner, ids=[waiting[0].id], approve=True)
    await redemptions.decide_redemptions(
        actor=owner,
        ids=[waiting[1].id],
        approve=False,
        reason="Please take Jira Fundamentals first",
    )
    await redemptions.cancel_redemption(actor=learners[1], redemption_id=waiting[3].id)
    return (
        f"loaded: account {account.name!r} (code {code}), owners ann@example.com and "
        f"bob@example.com, {len(CATALOGUE)} courses, 3 lots, {len(LEARNERS)} learners; "
        "one request is waiting for approval"
    )
