import asyncio
import hashlib
from datetime import timedelta

import pytest

from ledger.events import OutboxKind
from models import EmailDelivery, JobLease, OutboxMessage, Ownership, RedemptionStatus, User
from tests.notifications import factories as f
from workers.mail import (
    DeliveryBusy,
    DeliveryError,
    DeliveryReport,
    PermanentDeliveryError,
    deliver,
    message_id_for,
)


async def _purchase_paid() -> OutboxMessage:
    team = await f.team()
    await f.buy(team)
    return await f.latest(OutboxKind.PURCHASE_PAID)


async def _row(message: OutboxMessage) -> OutboxMessage:
    return await OutboxMessage.get(id=message.id)


async def test_every_owner_gets_the_purchase_including_the_invited_one(clock, smtp):
    message = await _purchase_paid()
    report = await deliver(message.id, settings=smtp.settings())

    assert sorted(report.sent) == f.OWNERS
    assert smtp.inbox.recipients() == f.OWNERS
    for owner in f.OWNERS:
        (received,) = smtp.inbox.to(owner)
        mail = received.message
        assert mail["Message-ID"] == message_id_for(message.id, owner, "credits@credits.example")
        assert mail["From"] == "Training Credits <credits@credits.example>"
        assert mail["Subject"] == "20,000 credits added to Data team"
        text = mail.get_body(preferencelist=("plain",)).get_content()
        html = mail.get_body(preferencelist=("html",)).get_content()
        assert "$16,000.00" in text and "$16,000.00" in html
    row = await _row(message)
    assert row.delivered_at == clock() and row.attempts == 1 and row.last_error is None
    assert (
        sorted(
            await EmailDelivery.filter(message_id=message.id).values_list("recipient", flat=True)
        )
        == f.OWNERS
    )


def test_the_message_id_is_the_same_for_the_same_message_and_recipient():
    digest = hashlib.sha256(b"ann@example.com").hexdigest()[:16]
    expected = f"<outbox-7-{digest}@credits.example>"
    sender = "Training Credits <credits@credits.example>"
    assert message_id_for(7, "Ann@Example.com", sender) == expected
    assert message_id_for(7, "bob@example.com", sender) != expected
    assert message_id_for(8, "ann@example.com", sender) != expected


async def test_the_learner_gets_the_approval_sentence(clock, smtp):
    message = await f.approved_redemption_message()
    await deliver(message.id, settings=smtp.settings())

    (received,) = smtp.inbox.to("lea@example.org")
    assert f.APPROVED_SENTENCE in received.message.get_body(preferencelist=("plain",)).get_content()
    assert f.APPROVED_SENTENCE.encode() in received.raw  # not split by the transfer encoding
    assert smtp.inbox.recipients() == sorted([*f.OWNERS, "lea@example.org"])


async def test_delivering_twice_emails_nobody_twice(clock, smtp):
    message = await _purchase_paid()
    settings = smtp.settings()
    await deliver(message.id, settings=settings)
    again = await deliver(message.id, settings=settings)
    assert again.already_delivered and again.sent == []

    # As if the worker died after sending, before marking the message delivered.
    await OutboxMessage.filter(id=message.id).update(delivered_at=None)
    resumed = await deliver(message.id, settings=settings)
    assert resumed.sent == [] and sorted(resumed.skipped) == f.OWNERS
    assert smtp.inbox.recipients() == f.OWNERS  # one email each, still


async def test_a_retry_emails_only_those_not_yet_emailed(clock, smtp):
    message = await _purchase_paid()
    smtp.inbox.refuse.add("bob@example.com")
    with pytest.raises(PermanentDeliveryError):
        await deliver(message.id, settings=smtp.settings())
    assert smtp.inbox.recipients() == ["ann@example.com", "ivy@example.com"]
    assert "bob@example.com" in (await _row(message)).last_error

    smtp.inbox.refuse.clear()
    report = await deliver(message.id, settings=smtp.settings())
    assert report.sent == ["bob@example.com"]
    assert smtp.inbox.recipients() == f.OWNERS


async def test_smtp_down_raises_and_records_then_delivers_once_it_is_back(clock, smtp):
    message = await _purchase_paid()
    smtp.stop()
    with pytest.raises(DeliveryError) as caught:
        await deliver(message.id, settings=smtp.settings())
    assert not isinstance(caught.value, PermanentDeliveryError)
    row = await _row(message)
    assert row.attempts == 1 and row.delivered_at is None
    assert "SMTPConnectError" in row.last_error
    assert await EmailDelivery.filter(message_id=message.id).count() == 0

    smtp.start()
    clock.advance(seconds=15)
    report = await deliver(message.id, settings=smtp.settings())
    assert sorted(report.sent) == f.OWNERS
    assert smtp.inbox.recipients() == f.OWNERS
    row = await _row(message)
    assert row.attempts == 2 and row.delivered_at == clock()


async def test_without_smtp_each_email_is_written_as_an_eml_file(clock, tmp_path, caplog):
    message = await _purchase_paid()
    settings = f.mail_settings(mail_dir=str(tmp_path / "mail"))
    caplog.set_level("INFO", logger="credits.mail")
    await deliver(message.id, settings=settings)

    expected = sorted(
        message_id_for(message.id, owner, settings.mail_from).strip("<>") + ".eml"
        for owner in f.OWNERS
    )
    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == expected
    written = (tmp_path / "mail" / expected[0]).read_text()
    assert "Subject: 20,000 credits added to Data team" in written
    assert "written to" in caplog.text

    await OutboxMessage.filter(id=message.id).update(delivered_at=None)
    await deliver(message.id, settings=settings)
    assert len(list((tmp_path / "mail").iterdir())) == 3


async def test_a_message_another_worker_is_delivering_is_left_to_it(clock, smtp):
    message = await _purchase_paid()
    await JobLease.create(
        name=f"mail:outbox:{message.id}",
        holder="elsewhere",
        expires_at=clock() + timedelta(minutes=10),
    )
    with pytest.raises(DeliveryBusy):
        await deliver(message.id, settings=smtp.settings())
    assert smtp.inbox.recipients() == []
    assert (await _row(message)).attempts == 0

    clock.advance(minutes=11)  # that worker died: its lease lapsed
    await deliver(message.id, settings=smtp.settings())
    assert smtp.inbox.recipients() == f.OWNERS
    assert await JobLease.filter(name=f"mail:outbox:{message.id}").count() == 0


async def test_simultaneous_deliveries_email_each_owner_once(clock, smtp):
    message = await _purchase_paid()
    settings = smtp.settings()
    results = await asyncio.gather(
        *(deliver(message.id, settings=settings) for _ in range(3)), return_exceptions=True
    )
    reports = [r for r in results if not isinstance(r, BaseException)]
    assert [sorted(r.sent) for r in reports if r.sent] == [f.OWNERS]
    assert all(isinstance(r, DeliveryBusy) for r in results if isinstance(r, BaseException))
    assert smtp.inbox.recipients() == f.OWNERS


async def test_a_message_whose_rows_are_gone_fails_for_good(clock, smtp):
    team = await f.team()
    message = await f.message(OutboxKind.PURCHASE_PAID, account_id=team.account.id, purchase_id=999)
    with pytest.raises(PermanentDeliveryError):
        await deliver(message.id, settings=smtp.settings())
    row = await _row(message)
    assert row.attempts == 1 and "DoesNotExist" in row.last_error and row.delivered_at is None


async def test_nothing_to_send_still_completes_the_message(clock, smtp):
    team = await f.team()
    message = await f.message(
        OutboxKind.CREDITS_EXPIRING, account_id=team.account.id, threshold_days=7, lot_ids=[]
    )
    report = await deliver(message.id, settings=smtp.settings())
    assert report.sent == [] and (await _row(message)).delivered_at == clock()


async def test_an_unknown_message_id_delivers_nothing(smtp):
    report = await deliver(424242, settings=smtp.settings())
    assert report.sent == [] and smtp.inbox.received == []


async def test_names_and_titles_beyond_ascii_arrive_intact(clock, smtp):
    team = await f.team()
    await f.buy(team)
    zoe = await f.learner("zoe@example.org", "Zoë Ünal")
    course = await f.course("Café Analytics — Ω", price=150)
    row = await f.redemption(team, by=zoe, of=course, status=RedemptionStatus.APPROVED)
    message = await f.message(OutboxKind.REDEMPTION_APPROVED, redemption_id=row.id)
    await deliver(message.id, settings=smtp.settings())

    (received,) = smtp.inbox.to("zoe@example.org")
    assert received.message["To"].addresses[0].display_name == "Zoë Ünal"
    assert received.message["Subject"] == "Approved: Café Analytics — Ω"
    assert (
        "Hello Zoë Ünal, Your request to redeem 150 training credits for Café Analytics — Ω "
        "has been approved." in received.message.get_body(preferencelist=("plain",)).get_content()
    )


async def test_an_address_that_cannot_be_a_header_fails_alone(clock, smtp):
    team = await f.team()
    odd = await User.create(email="odd@example.com\nBcc: x@evil.example", created_at=clock())
    await Ownership.create(account=team.account, user=odd, created_at=clock())
    await f.buy(team)
    message = await f.latest(OutboxKind.PURCHASE_PAID)
    with pytest.raises(PermanentDeliveryError):
        await deliver(message.id, settings=smtp.settings())
    assert smtp.inbox.recipients() == f.OWNERS
    assert "cannot compose" in (await _row(message)).last_error


class _Blocking:
    """A transport that holds each email until released, then hands it to real SMTP."""

    def __init__(self, settings) -> None:
        from workers.transport import transport_from_settings

        self.inner = transport_from_settings(settings)
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message) -> None:
        self.entered.set()
        await self.release.wait()
        await self.inner.send(message)


async def _held_delivery(
    settings,
) -> tuple[OutboxMessage, _Blocking, asyncio.Task[DeliveryReport]]:
    """A new purchase message's delivery, started with `settings` and holding its first
    email: the message, the transport to release, and the delivery's task."""
    message = await _purchase_paid()
    transport = _Blocking(settings)
    sending = asyncio.create_task(deliver(message.id, settings=settings, transport=transport))
    await transport.entered.wait()
    return message, transport, sending


async def test_a_worker_killed_mid_delivery_holds_the_message_a_minute_at_most(clock, smtp):
    message, transport, sending = await _held_delivery(smtp.settings())
    lease = await JobLease.get(name=f"mail:outbox:{message.id}")
    # What a kill -9 now would leave behind: the lease lapses within a minute.
    assert lease.expires_at - clock() <= timedelta(seconds=60)
    transport.release.set()
    await sending
    assert smtp.inbox.recipients() == f.OWNERS


async def test_a_slow_delivery_renews_its_lease_so_no_other_worker_takes_it(smtp):
    settings = smtp.settings(mail_lease_seconds=1.2)
    message, transport, sending = await _held_delivery(settings)
    await asyncio.sleep(2.5)  # twice the lease: only renewals keep it
    with pytest.raises(DeliveryBusy):
        await deliver(message.id, settings=settings)
    transport.release.set()
    report = await sending
    assert sorted(report.sent) == f.OWNERS
    assert smtp.inbox.recipients() == f.OWNERS  # nobody twice


async def test_a_worker_that_lost_its_lease_stops_before_the_next_recipient(smtp):
    settings = smtp.settings(mail_lease_seconds=1.2)
    message, transport, sending = await _held_delivery(settings)
    # Another worker took the message over (this one stalled past its lease).
    await JobLease.filter(name=f"mail:outbox:{message.id}").update(holder="elsewhere")
    await asyncio.sleep(0.6)  # a renewal finds it gone
    transport.release.set()
    with pytest.raises(DeliveryBusy):
        await sending
    assert len(smtp.inbox.received) == 1  # the copy in flight; nobody after it
