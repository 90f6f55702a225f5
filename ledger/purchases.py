"""Buying credits. Credits are added only once payment is confirmed, as a new lot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger import access, clock, entries, outbox, pricing
from ledger.actors import Actor
from ledger.balances import available_credits
from ledger.db import lock_account
from ledger.errors import InvalidInput, NotFound, PaymentDeclined
from ledger.events import OutboxKind
from ledger.idempotency import Attempt, Response, raise_stored_error, run_once, validate_key
from ledger.payments import Charge, ChargeResult, get_gateway
from models import (
    Account,
    EntryKind,
    Lot,
    PaymentMethod,
    Purchase,
    PurchaseStatus,
)

LOT_LIFETIME_YEARS = 1


async def add_lot(
    *,
    account: Account,
    credits: int,
    purchased_at: datetime,
    kind: EntryKind,
    actor_id: int | None,
    purchase: Purchase | None = None,
    reason: str | None = None,
    reference: str | None = None,
) -> Lot:
    """Add a lot and its ledger entry. The caller holds the account lock.

    The entry's `balance_after` is the balance at its `created_at`, to the microsecond:
    the expiry job derives later balances from it (ledger.expiry).
    """
    now = clock.now()
    lot = await Lot.create(
        account=account,
        purchase=purchase,
        credits=credits,
        remaining=credits,
        purchased_at=purchased_at,
        expires_at=clock.add_years(purchased_at, LOT_LIFETIME_YEARS),
        created_at=now,
    )
    await entries.write_entry(
        account_id=account.id,
        lot=lot,
        kind=kind,
        credits=credits,
        balance_after=await available_credits(account.id, now),
        actor_id=actor_id,
        now=now,
        purchase=purchase,
        reason=reason,
        reference=reference,
    )
    return lot


async def mark_paid(purchase: Purchase, *, actor_id: int | None, reference: str | None) -> Lot:
    """Confirm payment: the purchase becomes PAID and its lot is added, owners told."""
    account = await lock_account(purchase.account_id)
    now = clock.now()
    purchase.status = PurchaseStatus.PAID
    purchase.paid_at = now
    purchase.payment_reference = reference
    await purchase.save(update_fields=["status", "paid_at", "payment_reference"])
    lot = await add_lot(
        account=account,
        credits=purchase.credits,
        purchased_at=now,
        kind=EntryKind.PURCHASE,
        actor_id=actor_id,
        purchase=purchase,
        reference=reference,
    )
    await outbox.enqueue(OutboxKind.PURCHASE_PAID, account_id=account.id, purchase_id=purchase.id)
    return lot


async def open_purchase(
    *, account_id: int, buyer_id: int | None, price: pricing.Price, method: PaymentMethod
) -> Purchase:
    """A PENDING purchase at `price`, awaiting its payment."""
    return await Purchase.create(
        account_id=account_id,
        buyer_id=buyer_id,
        **pricing.price_fields(price),
        method=method,
        status=PurchaseStatus.PENDING,
        created_at=clock.now(),
    )


async def purchase_credits(
    *,
    actor: Actor,
    account_id: int | None,
    credits: int,
    idempotency_key: str,
    promo_code: str | None = None,
    payment_token: str | None = None,
    use_saved_payment_method: bool = False,
) -> Purchase:
    """Buy credits by card (or the saved card: a refill), once per idempotency key."""
    key = validate_key(idempotency_key)
    token = _payment_token(payment_token, use_saved_payment_method)
    quote = pricing.quote(credits, promo_code)
    account = await access.account_for(actor, account_id)
    saved_card = _saved_card(account) if use_saved_payment_method else None
    payload = {
        "account_id": account.id,
        "credits": credits,
        "promo_code": quote.promo_code,
        "payment_token": token,
        "use_saved": use_saved_payment_method,
    }
    card = Card(token=token, saved=saved_card, charge_key=f"purchase:{actor.user_id}:{key}")
    response = await run_once(
        Attempt(actor.user_id, "purchaseCredits", key, payload),
        lambda: _charge_and_record(account, buyer_id=actor.user_id, quote=quote, card=card),
    )
    raise_stored_error(response)
    purchase = await Purchase.get_or_none(id=response["purchase_id"])
    if purchase is None:
        raise NotFound("purchase not found")
    return purchase


def _payment_token(payment_token: str | None, use_saved_payment_method: bool) -> str | None:
    token = (payment_token or "").strip() or None
    if (token is None) == (not use_saved_payment_method):
        raise InvalidInput(
            "give exactly one of paymentToken and useSavedPaymentMethod",
            field=["paymentToken"],
        )
    return token


def _saved_card(account: Account) -> str:
    if not account.saved_payment_method:
        raise InvalidInput(
            "this account has no saved payment method yet; pay with a card first",
            field=["useSavedPaymentMethod"],
        )
    return account.saved_payment_method


@dataclass(frozen=True)
class Card:
    """How a purchase is paid: a new card's token, or the account's saved card."""

    token: str | None
    saved: str | None
    charge_key: str  # the gateway's idempotency key


async def _charge_and_record(
    account: Account, *, buyer_id: int, quote: pricing.Quote, card: Card
) -> Response:
    """Charge the card for a new purchase: paid (its lot added, a new card saved for
    refills) or declined (kept as FAILED, the decline answered as a stored error)."""
    purchase = await open_purchase(
        account_id=account.id, buyer_id=buyer_id, price=quote, method=PaymentMethod.CARD
    )
    charge = Charge(
        amount_cents=quote.amount_cents,
        idempotency_key=card.charge_key,
        description=f"{quote.credits} training credits",
        payment_token=card.token,
        payment_method=card.saved,
    )
    result = await get_gateway().charge(charge)
    if not result.ok:
        return await _record_decline(purchase, result)
    await mark_paid(purchase, actor_id=buyer_id, reference=result.reference)
    if result.payment_method is not None and card.saved is None:
        await Account.filter(id=account.id).update(saved_payment_method=result.payment_method)
    return {"purchase_id": purchase.id}


async def _record_decline(purchase: Purchase, result: ChargeResult) -> Response:
    purchase.status = PurchaseStatus.FAILED
    purchase.failure_reason = result.decline_reason or "declined"
    purchase.payment_reference = result.reference
    await purchase.save(update_fields=["status", "failure_reason", "payment_reference"])
    error = PaymentDeclined(
        result.decline_reason or "the card was declined", field=["paymentToken"]
    )
    return {"purchase_id": purchase.id, "error": error.to_dict()}
