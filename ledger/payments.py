"""The payment gateway interface, and the sandbox that stands in for a card network.

A real adapter implements `PaymentGateway` the same way: it receives our idempotency
key, so a retried charge is never taken twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    """What to take, from a new card's token or a saved payment method; a gateway takes
    it once per `idempotency_key`, however often it is asked."""

    amount_cents: int
    idempotency_key: str
    description: str
    payment_token: str | None = None
    payment_method: str | None = None


@dataclass(frozen=True)
class ChargeResult:
    ok: bool
    reference: str
    # A reusable handle on the card, for refills; None when declined.
    payment_method: str | None = None
    decline_reason: str | None = None


class PaymentGateway(Protocol):
    async def charge(self, charge: Charge) -> ChargeResult: ...


SANDBOX_APPROVED = {"tok_visa", "tok_mastercard", "tok_amex"}
SANDBOX_DECLINED = {
    "tok_chargeDeclined": "Your card was declined.",
    "tok_chargeDeclinedInsufficientFunds": "Your card has insufficient funds.",
}


class SandboxGateway:
    """Test cards: `tok_visa` succeeds, `tok_chargeDeclined` is declined."""

    def __init__(self) -> None:
        self.charges: dict[str, ChargeResult] = {}
        self.charge_count = 0

    async def charge(self, charge: Charge) -> ChargeResult:
        key = charge.idempotency_key
        if key in self.charges:
            return self.charges[key]
        self.charge_count += 1
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        token = charge.payment_token
        if charge.payment_method is not None:
            token = charge.payment_method.removeprefix("pm_sandbox_").rsplit("_", 1)[0]
        if token in SANDBOX_APPROVED:
            result = ChargeResult(
                ok=True, reference=f"ch_sandbox_{digest}", payment_method=f"pm_sandbox_{token}_1"
            )
        else:
            reason = SANDBOX_DECLINED.get(token or "", "The payment token is not recognised.")
            result = ChargeResult(ok=False, reference=f"ch_sandbox_{digest}", decline_reason=reason)
        self.charges[key] = result
        return result


_gateway: PaymentGateway = SandboxGateway()


def get_gateway() -> PaymentGateway:
    return _gateway


def set_gateway(gateway: PaymentGateway) -> None:
    global _gateway
    _gateway = gateway
