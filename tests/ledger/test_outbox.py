"""Outbox messages: each kind has one payload shape, and a message of another is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ledger import events, outbox
from models import OutboxMessage

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def test_every_kind_has_a_payload_type():
    assert set(outbox.PAYLOADS) == set(events.OutboxKind)


def test_a_payload_of_its_kind_makes_a_message():
    payload = events.CreditsExpiring(account_id=1, threshold_days=7, lot_ids=[2, 3])
    message = outbox.new_message(events.OutboxKind.CREDITS_EXPIRING, payload, NOW)
    assert (message.kind, message.payload) == ("credits_expiring", dict(payload))


@pytest.mark.parametrize(
    "payload",
    [{"account_id": 1}, {"account_id": 1, "purchase_id": 2, "user_id": 3}, {"redemption_id": 1}],
)
async def test_a_payload_of_another_shape_is_refused_and_nothing_is_queued(payload):
    with pytest.raises(RuntimeError, match="purchase_paid"):
        await outbox.enqueue(events.OutboxKind.PURCHASE_PAID, **payload)
    assert await OutboxMessage.all().count() == 0
