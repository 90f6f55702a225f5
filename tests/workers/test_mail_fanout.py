"""One notification to many owners: each emailed once, in groups, and a delivery cut
off mid-batch is finished by the next attempt without emailing anyone twice."""

from __future__ import annotations

import asyncio

from ledger import clock as ledger_clock
from ledger.events import OutboxKind
from models import EmailDelivery, Ownership, User
from tests.notifications import factories as f
from workers import mail
from workers.transport import transport_from_settings

OWNERS = 200


async def _owners_notification():  # type: ignore[no-untyped-def]
    team = await f.team()
    now = ledger_clock.now()
    for i in range(OWNERS - len(f.OWNERS)):
        user = await User.create(
            email=f"owner{i:03}@example.com", name=f"Owner {i}", created_at=now
        )
        await Ownership.create(account=team.account, user=user, created_at=now)
    await f.buy(team)
    return await f.latest(OutboxKind.PURCHASE_PAID)


async def test_a_notification_to_200_owners_emails_each_once_in_few_statements(
    clock, smtp, monkeypatch
):
    message = await _owners_notification()
    writes: list[int] = []
    record = mail._record_sent

    async def counted(message_id: int, recipients: list[str]) -> None:
        writes.append(len(recipients))
        await record(message_id, recipients)

    monkeypatch.setattr(mail, "_record_sent", counted)
    report = await mail.deliver(message.id, settings=smtp.settings())

    received = smtp.inbox.recipients()
    assert len(received) == OWNERS and len(set(received)) == OWNERS
    assert sorted(report.sent) == received
    assert await EmailDelivery.filter(message_id=message.id).count() == OWNERS
    assert sum(writes) == OWNERS and len(writes) < OWNERS  # grouped, not one per copy
    assert len({r.peer for r in smtp.inbox.received}) <= 8  # connections reused


class _Dies:
    """Lets `survive` copies through to real SMTP, then hangs like a process that died."""

    def __init__(self, settings, survive: int) -> None:  # type: ignore[no-untyped-def]
        self.inner = transport_from_settings(settings)
        self.left = survive

    async def send(self, message) -> None:  # type: ignore[no-untyped-def]
        if self.left <= 0:
            await asyncio.Event().wait()
        self.left -= 1
        await self.inner.send(message)


async def test_a_delivery_cut_off_mid_batch_is_finished_by_the_next_without_duplicates(clock, smtp):
    message = await _owners_notification()
    settings = smtp.settings()
    cut = asyncio.create_task(
        mail.deliver(message.id, settings=settings, transport=_Dies(settings, 70))
    )
    for _ in range(200):  # until the copies that went through are recorded
        if await EmailDelivery.filter(message_id=message.id).count() == 70:
            break
        await asyncio.sleep(0.05)
    cut.cancel()  # the worker is gone; its lease stays until it lapses
    await asyncio.gather(cut, return_exceptions=True)
    assert len(smtp.inbox.received) == 70

    clock.advance(seconds=settings.mail_lease_seconds + 1)
    report = await mail.deliver(message.id, settings=settings)
    assert len(report.skipped) == 70 and len(report.sent) == OWNERS - 70
    received = smtp.inbox.recipients()
    assert len(received) == OWNERS and len(set(received)) == OWNERS
    assert await EmailDelivery.filter(message_id=message.id).count() == OWNERS
