"""Buying credits. Credits are added only once payment is confirmed, as a new lot."""

from __future__ import annotations

from datetime import datetime

from ledger import access, clock, events, outbox, pricing
from ledger.actors import Actor
from ledger.balances import available_credits
from ledger.db import lock_account
from ledger.errors import InvalidInput, NotFound, PaymentDeclined
from ledger.idempotency import Response, raise_stored_error, run_once, validate_key
from ledger.payments import get_gateway
from models import (
    Account,
    EntryKind,
    LedgerEntry,
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
    await LedgerEntry.create(
        account=account,
        lot=lot,
        kind=kind,
        credits=credits,
        balance_after=await available_credits(account.id, now),
        actor_id=actor_id,
        purchase=purchase,
        reason=reason,
        reference=reference,
        created_at=now,
    )
    return lot


async def mark_paid(purchase: Purchase, *, actor_id: int | None, reference: str | None) -> Lot:
    """Confirm payment: the purchase becomes PAID and its lot is added, owners told."""
    account = await lock_account(purchase.account_id)
    assert account is not None
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
    await outbox.enqueue(events.PURCHASE_PAID, account_id=account.id, purchase_id=purchase.id)
    return lot


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
    token = (payment_token or "").strip() or None
    if (token is None) == (not use_saved_payment_method):
        raise InvalidInput(
            "give exactly one of paymentToken and useSavedPaymentMethod",
            field=["paymentToken"],
        )
    quote = pricing.quote(credits, promo_code)
    account = await access.account_for(actor, account_id)
    if use_saved_payment_method and not account.saved_payment_method:
        raise InvalidInput(
            "this account has no saved payment method yet; pay with a card first",
            field=["useSavedPaymentMethod"],
        )
    payload = {
        "account_id": account.id,
        "credits": credits,
        "promo_code": quote.promo_code,
        "payment_token": token,
        "use_saved": use_saved_payment_method,
    }

    async def charge_and_record() -> Response:
        purchase = await Purchase.create(
            account=account,
            buyer_id=actor.user_id,
            credits=credits,
            unit_price_cents=quote.unit_price_cents,
            discount_percent=quote.discount_percent,
            amount_cents=quote.amount_cents,
            promo_code=quote.promo_code,
            method=PaymentMethod.CARD,
            status=PurchaseStatus.PENDING,
            created_at=clock.now(),
        )
        result = await get_gateway().charge(
            amount_cents=quote.amount_cents,
            idempotency_key=f"purchase:{actor.user_id}:{key}",
            description=f"{credits} training credits",
            payment_token=token,
            payment_method=account.saved_payment_method if use_saved_payment_method else None,
        )
        if not result.ok:
            purchase.status = PurchaseStatus.FAILED
            purchase.failure_reason = result.decline_reason or "declined"
            purchase.payment_reference = result.reference
            await purchase.save(update_fields=["status", "failure_reason", "payment_reference"])
            error = PaymentDeclined(
                result.decline_reason or "the card was declined", field=["paymentToken"]
            )
            return {"purchase_id": purchase.id, "error": error.to_dict()}
        await mark_paid(purchase, actor_id=actor.user_id, reference=result.reference)
        if result.payment_method is not None and not use_saved_payment_method:
            await Account.filter(id=account.id).update(saved_payment_method=result.payment_method)
        return {"purchase_id": purchase.id}

    response = await run_once(
        user_id=actor.user_id,
        operation="purchaseCredits",
        key=key,
        payload=payload,
        effect=charge_and_record,
    )
    raise_stored_error(response)
    purchase = await Purchase.get_or_none(id=response["purchase_id"])
    if purchase is None:
        raise NotFound("purchase not found")
    return purchase
