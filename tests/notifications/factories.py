"""Rows for notification and mail tests, made through the ledger where it exists.

Redemptions are written directly with the models (as the ledger would leave them), so
these tests depend only on what the emails read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from ledger import clock, outbox
from ledger.accounts import add_owner, create_account
from ledger.actors import Actor
from ledger.balances import available_credits
from ledger.events import OutboxKind
from ledger.purchases import mark_paid, purchase_credits
from ledger.users import sign_in
from models import (
    Account,
    ApprovalMode,
    Course,
    Draw,
    EntryKind,
    LedgerEntry,
    Lot,
    OutboxMessage,
    PaymentMethod,
    Purchase,
    PurchaseStatus,
    QuoteRequest,
    QuoteStatus,
    Redemption,
    RedemptionStatus,
    User,
)
from settings import Settings

OWNERS = ["ann@example.com", "bob@example.com", "ivy@example.com"]
# What the learner of `approved_redemption_message` is told.
APPROVED_SENTENCE = (
    "Hello Lea Learner, Your request to redeem 150 training credits for "
    "Data Science Fundamentals has been approved."
)


def mail_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "public_url": "https://api.example.com/",
        "portal_url": "https://portal.example.com/",
        "support_email": "help@credits.example",
        "mail_from": "Training Credits <credits@credits.example>",
        "smtp_host": "",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Team:
    """An account owned by its creator Ann, Bob (signed in) and Ivy (invited only)."""

    account: Account
    ann: User
    bob: User
    ivy: User

    @property
    def actor(self) -> Actor:
        return Actor(user=self.ann)


async def team(approval_mode: ApprovalMode = ApprovalMode.MANUAL) -> Team:
    ann = await sign_in(sub="ann", email="ann@example.com", name="Ann Owner")
    account = await create_account(
        actor=Actor(user=ann), name="Data team", approval_mode=approval_mode
    )
    bob = await sign_in(sub="bob", email="bob@example.com", name="Bob Owner")
    await add_owner(actor=Actor(user=ann), account_id=None, email="bob@example.com")
    await add_owner(actor=Actor(user=ann), account_id=None, email="ivy@example.com")
    ivy = await User.get(email="ivy@example.com")
    return Team(account=account, ann=ann, bob=bob, ivy=ivy)


async def buy(team: Team, credits: int = 20_000, key: str = "order-1") -> Purchase:
    return await purchase_credits(
        actor=team.actor,
        account_id=None,
        credits=credits,
        payment_token="tok_visa",
        idempotency_key=key,
    )


async def pay_invoice(team: Team, credits: int, invoice_number: str) -> QuoteRequest:
    """A quote fulfilled by support: its purchase is paid and linked to the quote."""
    now = clock.now()
    quote = await QuoteRequest.create(
        account=team.account,
        requested_by=team.ann,
        credits=credits,
        unit_price_cents=100,
        discount_percent=0,
        amount_cents=credits * 100,
        message="Please invoice us",
        status=QuoteStatus.OPEN,
        created_at=now,
    )
    async with in_transaction():
        purchase = await Purchase.create(
            account=team.account,
            buyer=team.ann,
            credits=credits,
            unit_price_cents=100,
            discount_percent=0,
            amount_cents=credits * 100,
            method=PaymentMethod.INVOICE,
            status=PurchaseStatus.PENDING,
            created_at=now,
        )
        await mark_paid(purchase, actor_id=None, reference=invoice_number)
        quote.purchase, quote.invoice_number = purchase, invoice_number
        quote.status, quote.decided_at = QuoteStatus.FULFILLED, now
        await quote.save()
    return quote


async def learner(email: str = "lea@example.org", name: str = "Lea Learner") -> User:
    return await sign_in(sub=f"learner-{email}", email=email, name=name)


async def course(title: str = "Data Science Fundamentals", price: int = 150) -> Course:
    now = clock.now()
    return await Course.create(
        sku=f"SKU-{price}-{len(title)}",
        title=title,
        price_credits=price,
        created_at=now,
        updated_at=now,
    )


async def redemption(
    team: Team,
    *,
    by: User,
    of: Course,
    status: RedemptionStatus = RedemptionStatus.PENDING,
    decided_by: User | None = None,
    reason: str | None = None,
) -> Redemption:
    """A redemption as the ledger leaves it; an approved one has drawn its credits."""
    now = clock.now()
    row = await Redemption.create(
        account=team.account,
        learner=by,
        course=of,
        credits=of.price_credits,
        status=status,
        requested_at=now,
        decided_at=None if status is RedemptionStatus.PENDING else now,
        decided_by=decided_by,
        reason=reason,
    )
    if status in (RedemptionStatus.APPROVED, RedemptionStatus.REVERSED):
        await _draw(team.account, row, decided_by)
    return row


async def _draw(account: Account, row: Redemption, actor: User | None) -> None:
    lot = await Lot.filter(account_id=account.id).order_by("expires_at", "id").first()
    assert lot is not None and lot.remaining >= row.credits
    await Lot.filter(id=lot.id).update(remaining=F("remaining") - row.credits)
    await Draw.create(redemption=row, lot=lot, credits=row.credits)
    await LedgerEntry.create(
        account=account,
        lot=lot,
        kind=EntryKind.REDEMPTION,
        credits=-row.credits,
        balance_after=await available_credits(account.id),
        actor=actor,
        redemption=row,
        created_at=clock.now(),
    )


async def expire(lot: Lot) -> LedgerEntry:
    """What the nightly job does once `lot` is past its expiry (the clock must be)."""
    await Lot.filter(id=lot.id).update(remaining=0)
    return await LedgerEntry.create(
        account_id=lot.account_id,
        lot=lot,
        kind=EntryKind.EXPIRY,
        credits=-lot.remaining,
        balance_after=await available_credits(lot.account_id),
        created_at=clock.now(),
    )


async def extend(lot: Lot, until: datetime, *, by: User, reason: str) -> LedgerEntry:
    await Lot.filter(id=lot.id).update(expires_at=until)
    return await LedgerEntry.create(
        account_id=lot.account_id,
        lot=lot,
        kind=EntryKind.EXTENSION,
        credits=0,
        balance_after=await available_credits(lot.account_id),
        actor=by,
        reason=reason,
        expires_at=until,
        created_at=clock.now(),
    )


async def approved_redemption_message() -> OutboxMessage:
    """The REDEMPTION_APPROVED message of Lea's request for Data Science Fundamentals
    (150 credits), approved by Bob, on a team that bought 20,000 credits."""
    owners = await team()
    await buy(owners)
    row = await redemption(
        owners,
        by=await learner(),
        of=await course(),
        status=RedemptionStatus.APPROVED,
        decided_by=owners.bob,
    )
    return await message(OutboxKind.REDEMPTION_APPROVED, redemption_id=row.id)


async def message(kind: str, **payload: object) -> OutboxMessage:
    return await outbox.enqueue(kind, **payload)


async def latest(kind: str) -> OutboxMessage:
    row = await OutboxMessage.filter(kind=kind).order_by("-id").first()
    assert row is not None, f"no {kind} message was queued"
    return row
