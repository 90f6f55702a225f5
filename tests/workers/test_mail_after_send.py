"""A brief database error right after the SMTP server accepted a copy loses nothing."""

from __future__ import annotations

from tortoise.exceptions import OperationalError

from ledger.events import OutboxKind
from models import EmailDelivery, JobLease, OutboxMessage
from tests.notifications import factories as f
from workers import mail


async def test_a_failed_sent_record_is_retried_and_nobody_is_emailed_twice(
    clock, smtp, monkeypatch
):
    team = await f.team()
    await f.buy(team)
    message = await f.latest(OutboxKind.PURCHASE_PAID)
    real_create = EmailDelivery.create
    failures = {"left": 2}

    async def flaky_create(**fields):  # type: ignore[no-untyped-def]
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("sorry, too many clients already")
        return await real_create(**fields)

    monkeypatch.setattr(EmailDelivery, "create", flaky_create)
    monkeypatch.setattr("workers.mail.asyncio.sleep", _no_wait)
    report = await mail.deliver(message.id, settings=smtp.settings())
    assert sorted(report.sent) == f.OWNERS
    assert await EmailDelivery.filter(message_id=message.id).count() == len(f.OWNERS)
    assert not await JobLease.exists()  # released, not left to expire
    monkeypatch.setattr(EmailDelivery, "create", real_create)
    await OutboxMessage.filter(id=message.id).update(delivered_at=None)
    await mail.deliver(message.id, settings=smtp.settings())
    assert smtp.inbox.recipients() == f.OWNERS  # one email each


async def _no_wait(_: float) -> None:
    return None
