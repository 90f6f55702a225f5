"""Sample data for a new developer: a catalogue, an account, lots and redemptions.

Everything goes through the ledger's own rules; the clock is moved back so that the
lots have different ages and one is close to expiry.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ledger import accounts, clock, courses, purchases, redemptions
from ledger.actors import Actor
from ledger.users import sign_in
from models import Account, ApprovalMode, Course, Ownership, Redemption, User

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


DEMO_ACCOUNT = "Platform Engineering"
OWNERS = (("ann", "Ann Owner"), ("bob", "Bob Owner"))


def _owner_email(local: str, round_: int) -> str:
    return f"{local}@example.com" if round_ == 0 else f"{local}+demo{round_}@example.com"


async def _existing_demo() -> Account | None:
    """The demo account, if an earlier run left one (owned by its demo Ann)."""
    ownership = (
        await Ownership.filter(
            account__name=DEMO_ACCOUNT,
            user__email__startswith="ann",
            user__sub__startswith="local|",
        )
        .select_related("account")
        .first()
    )
    return ownership.account if ownership else None


async def _free_round() -> int:
    """The first set of owner emails nobody uses to own an account yet."""
    for round_ in range(100):
        emails = [_owner_email(local, round_) for local, _ in OWNERS]
        if not await Ownership.filter(user__email__in=emails).exists():
            return round_
    raise RuntimeError("no free demo owner email left")


async def _course(support: Actor, sku: str, title: str, price: int) -> Course:
    """The catalogue's course with this SKU; the demo's own only where there is none."""
    existing = await Course.get_or_none(sku=sku)
    if existing is not None:
        return existing
    return await courses.upsert_course(actor=support, sku=sku, title=title, price_credits=price)


def _how_to_reach(account: Account, code: str, owners: list[str], *, already: bool) -> str:
    done = "is already loaded" if already else "loaded"
    return "\n".join(
        [
            f"demo {done}: account {account.name!r} (id {account.id}, code {code}), owned by "
            + " and ".join(owners),
            f"sign in as an owner:  credits token --email {owners[0]} --name 'Ann Owner'",
            "or as a learner:      credits token --email priya@example.com --name 'Priya Shah'",
            "or as support staff:  credits token --email support@example.com --name Sam --support",
        ]
    )


async def load_demo() -> str:
    """Load a demo account, or say where the one already loaded is; never nothing.

    On a database with data of its own the demo takes owner emails nobody owns an
    account with (`ann+demo1@example.com`, …) and reuses courses whose SKU exists.
    """
    existing = await _existing_demo()
    if existing is not None:
        return await _already_loaded(existing)
    round_ = await _free_round()
    ann_email, bob_email = (_owner_email(local, round_) for local, _ in OWNERS)
    owner = Actor(user=await _user(ann_email, "Ann Owner"))
    real_now = clock.now()
    support = Actor(user=await _user("support@example.com", "Sam Support"), is_support=True)
    catalogue = {sku: await _course(support, sku, title, price) for sku, title, price in CATALOGUE}
    account = await accounts.create_account(
        actor=owner, name=DEMO_ACCOUNT, approval_mode=ApprovalMode.AUTOMATIC
    )
    await accounts.add_owner(actor=owner, account_id=account.id, email=bob_email)
    await _buy_lots(owner, account, real_now)
    clock.set_clock(_frozen(real_now - timedelta(days=20)))
    code = accounts.display_code(account)
    learners = [Actor(user=await _user(email, name)) for email, name in LEARNERS]
    for i, sku in enumerate(["JIRA-FUND", "CONF-TEAMS", "AGILE-SCRUM", "JSM-AGENT"]):
        await _redeem(learners[i], code, catalogue[sku], f"demo-{account.id}")
    clock.set_clock(None)
    await _requests_decided_by_hand(owner, account, code, learners, catalogue)
    summary = _how_to_reach(account, code, [ann_email, bob_email], already=False)
    return (
        f"{summary}\n{len(CATALOGUE)} courses, 3 lots, {len(LEARNERS)} learners;"
        " one request is waiting for approval"
    )


async def _already_loaded(account: Account) -> str:
    owners = await Ownership.filter(account_id=account.id).order_by("user_id")
    users = await User.filter(id__in=[o.user_id for o in owners])
    emails = [str(user.email) for user in users]
    code = accounts.display_code(account)
    return _how_to_reach(account, code, sorted(emails), already=True)


# (days ago, credits, promo code): lots of different ages, the oldest close to expiry.
PURCHASES = ((335, 5_000, None), (180, 20_000, "twentyoffTC"), (30, 3_500, None))


async def _buy_lots(owner: Actor, account: Account, now: datetime) -> None:
    for days_ago, credits, promo in PURCHASES:
        clock.set_clock(_frozen(now - timedelta(days=days_ago)))
        await purchases.purchase_credits(
            actor=owner,
            account_id=account.id,
            credits=credits,
            promo_code=promo,
            payment_token="tok_visa",
            idempotency_key=f"demo-{account.id}-{days_ago}",
        )


async def _redeem(learner: Actor, code: str, course: Course, key: str) -> Redemption:
    return await redemptions.redeem_credits(
        actor=learner, code=code, course_id=course.id, idempotency_key=key
    )


async def _requests_decided_by_hand(
    owner: Actor, account: Account, code: str, learners: list[Actor], catalogue: dict[str, Course]
) -> None:
    """Manual approval above 150 credits: one request approved, one denied, one
    cancelled by its learner, and one still waiting."""
    await accounts.update_account(
        actor=owner,
        account_id=account.id,
        approval_mode=ApprovalMode.MANUAL,
        auto_approve_limit=150,
    )
    waiting = [
        await _redeem(learners[i], code, catalogue[sku], f"demo-{account.id}-{sku}")
        for i, sku in [(4, "CLOUD-MIGR"), (5, "JIRA-ADMIN"), (0, "CERT-ADMIN"), (1, "AUTOMATION")]
    ]
    await redemptions.decide_redemptions(actor=owner, ids=[waiting[0].id], approve=True)
    await redemptions.decide_redemptions(
        actor=owner,
        ids=[waiting[1].id],
        approve=False,
        reason="Please take Jira Fundamentals first",
    )
    await redemptions.cancel_redemption(actor=learners[1], redemption_id=waiting[3].id)
