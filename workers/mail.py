"""Delivering one outbox message by email, at most once per recipient.

`deliver(message_id)` renders the message's emails and sends each one that has no
`EmailDelivery` row yet, writing that row right after the server accepted it: running
it again (a retry, a duplicate broker message) emails nobody twice. A per-message lease
keeps two workers from delivering the same message at once. Failures are recorded on
the outbox row (`attempts`, `last_error`) and raised for the actor to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tortoise.exceptions import DoesNotExist, IntegrityError
from tortoise.expressions import F

from ledger import clock
from models import EmailDelivery, JobLease, OutboxMessage
from notifications import Email, build_emails
from settings import Settings, get_settings
from workers import compose, journal
from workers.transport import SendError, Transport, transport_from_settings

log = logging.getLogger("credits.mail")

MAX_ERROR_LENGTH = 2000


class DeliveryError(Exception):
    """Some recipients were not emailed; retrying may help."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help: recipients refused for good, or the message's rows are gone."""


class DeliveryBusy(DeliveryError):
    """Another worker is delivering this message right now; retry later."""


@dataclass
class DeliveryReport:
    message_id: int
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    already_delivered: bool = False


def message_id_for(outbox_id: int, recipient: str, sender: str) -> str:
    """The same Message-ID every time one outbox message goes to one recipient."""
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return compose.message_id_for(outbox_id, recipient, domain)


POST_SEND_ATTEMPTS = 5
_HOLDER_PREFIX = f"{socket.gethostname()}:{os.getpid()}"


@asynccontextmanager
async def _lease(message_id: int, length: timedelta) -> AsyncIterator[asyncio.Event]:
    """Hold the message's lease while delivering, renewing it every third of `length`:
    a worker killed mid-delivery holds the message for at most `length`. Yields an event
    set when the lease was lost (another worker took it over): stop sending then."""
    name = f"mail:outbox:{message_id}"
    holder = f"{_HOLDER_PREFIX}:{uuid.uuid4().hex}"[-128:]
    now = clock.now()
    try:
        await JobLease.create(name=name, holder=holder, expires_at=now + length)
    except IntegrityError:
        taken = await JobLease.filter(name=name, expires_at__lte=now).update(
            holder=holder, expires_at=now + length
        )
        if not taken:
            raise DeliveryBusy(f"outbox message {message_id} is being delivered") from None
    lost = asyncio.Event()
    renewal = asyncio.get_running_loop().create_task(
        _renew(name, holder, length, lost), context=contextvars.Context()
    )
    try:
        yield lost
    finally:
        renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewal
        await _after_send(
            "releasing the lease", lambda: JobLease.filter(name=name, holder=holder).delete()
        )


async def _renew(name: str, holder: str, length: timedelta, lost: asyncio.Event) -> None:
    while True:
        await asyncio.sleep(length.total_seconds() / 3)
        try:
            kept = await JobLease.filter(name=name, holder=holder).update(
                expires_at=clock.now() + length
            )
        except Exception as exc:  # the next renewal may succeed; the lease has time left
            log.warning("renewing %s failed: %s", name, exc)
            continue
        if not kept:
            log.warning("%s was taken over by another worker", name)
            lost.set()
            return


async def _record_error(message_id: int, error: str) -> None:
    await OutboxMessage.filter(id=message_id).update(last_error=error[:MAX_ERROR_LENGTH])


async def _after_send(what: str, work: Callable[[], Awaitable[Any]]) -> Any:
    """Writes after the SMTP server accepted a copy: a brief database error (a full
    connection pool, a failover) must not lose the sent record — that would email the
    recipient again — nor leave the lease held until it expires."""
    for attempt in range(POST_SEND_ATTEMPTS):
        try:
            return await work()
        except IntegrityError:
            raise
        except Exception as exc:
            if attempt == POST_SEND_ATTEMPTS - 1:
                raise
            log.warning("%s failed (%s); retrying", what, exc)
            await asyncio.sleep(0.2 * 2**attempt)


async def _record_sent(message_id: int, recipients: list[str]) -> None:
    """One statement for a group of copies the server accepted; a recipient already
    recorded (by a worker that lost its lease mid-send) is left as it is."""
    sent_at = clock.now()
    await _after_send(
        f"recording {len(recipients)} recipients as sent",
        lambda: EmailDelivery.bulk_create(
            [
                EmailDelivery(message_id=message_id, recipient=r, sent_at=sent_at)
                for r in recipients
            ],
            ignore_conflicts=True,
        ),
    )


class _Recorder:
    """Group commit for sent records: a copy accepted while a group is being written
    joins the next group, so the records trail the sends by one round trip (what a
    kill -9 can leave unrecorded, and send again) without a statement per copy."""

    def __init__(self, message_id: int) -> None:
        self.message_id = message_id
        self.waiting: list[str] = []
        self.writing = False
        self.failed = False  # a group could not be written: the journal must stay

    async def sent(self, recipient: str) -> None:
        self.waiting.append(recipient)
        if self.writing:
            return  # the coroutine writing now takes this one with its next group
        self.writing = True
        try:
            while self.waiting:
                group, self.waiting = self.waiting, []
                await _record_sent(self.message_id, group)
        except BaseException:
            self.failed = True
            raise
        finally:
            self.writing = False


async def _emails_of(message: OutboxMessage, settings: Settings) -> list[Email]:
    try:
        return await build_emails(message, settings=settings)
    except (DoesNotExist, KeyError) as exc:
        error = f"cannot build the emails: {type(exc).__name__}: {exc}"
        await _record_error(message.id, error)
        raise PermanentDeliveryError(f"outbox message {message.id}: {error}") from exc
    except Exception as exc:
        await _record_error(message.id, f"cannot build the emails: {type(exc).__name__}: {exc}")
        raise


SENDS_AT_ONCE = 8  # per message; the transport caps the connections per process


async def _send_all(
    message: OutboxMessage,
    emails: list[Email],
    settings: Settings,
    transport: Transport,
    lease_lost: asyncio.Event,
) -> DeliveryReport:
    report = DeliveryReport(message_id=message.id)
    done = {
        str(recipient)
        for recipient in await EmailDelivery.filter(message_id=message.id).values_list(
            "recipient", flat=True
        )
    }
    sender = compose.Sender.parse(settings.mail_from)
    date = email.utils.format_datetime(clock.now())
    failures: list[tuple[str, SendError]] = []
    outgoing: list[tuple[Email, compose.RawEmail]] = []
    for mail in emails:
        if mail.recipient in done:
            report.skipped.append(mail.recipient)
            continue
        try:
            outgoing.append(
                (mail, compose.compose_raw(mail, outbox_id=message.id, sender=sender, date=date))
            )
        except ValueError as exc:  # an address or header that cannot be sent
            failures.append((mail.recipient, SendError(f"cannot compose: {exc}", permanent=True)))
    recorder = _Recorder(message.id)
    notes = journal.Journal.start(journal.directory_of(settings), message) if outgoing else None
    server_down = False

    async def send(mail: Email, raw: compose.RawEmail) -> None:
        nonlocal server_down
        if server_down:
            return  # the others would fail the same way
        if lease_lost.is_set():  # the new holder sends the rest; two would email twice
            raise DeliveryBusy(f"outbox message {message.id}: lease lost mid-delivery")
        try:
            await transport.send(raw)
        except SendError as exc:
            failures.append((mail.recipient, exc))
            server_down = server_down or not exc.permanent
            return
        if notes is not None:
            notes.sent(mail.recipient)  # before anything else can be interrupted
        report.sent.append(mail.recipient)
        await recorder.sent(mail.recipient)

    gate = asyncio.Semaphore(SENDS_AT_ONCE)

    async def send_gated(mail: Email, raw: compose.RawEmail) -> None:
        async with gate:
            await send(mail, raw)

    try:
        # The first copy alone: a server that is down fails once, not once per connection.
        if outgoing:
            await send(*outgoing[0])
        results = await asyncio.gather(
            *(send_gated(mail, raw) for mail, raw in outgoing[1:]), return_exceptions=True
        )
    finally:
        if notes is not None:
            notes.close(recorded=not recorder.failed)
    # A copy still being recorded by another sender has been written once gather ends.
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise errors[0]
    if failures:
        summary = "; ".join(f"{recipient}: {exc}" for recipient, exc in failures)
        await _record_error(message.id, summary)
        permanent = all(exc.permanent for _, exc in failures)
        error = PermanentDeliveryError if permanent else DeliveryError
        raise error(f"outbox message {message.id} ({message.kind}): {summary}")
    return report


async def deliver(
    message_id: int, *, settings: Settings | None = None, transport: Transport | None = None
) -> DeliveryReport:
    """Email everyone outbox message `message_id` is for who has not been emailed yet.

    Raises `DeliveryError` when some recipients remain (retry later),
    `PermanentDeliveryError` when retrying cannot help, and `DeliveryBusy` when another
    worker is delivering the same message.
    """
    settings = settings or get_settings()
    message = await OutboxMessage.get_or_none(id=message_id)
    if message is None:
        log.warning("outbox message %s does not exist: nothing to deliver", message_id)
        return DeliveryReport(message_id=message_id)
    if message.delivered_at is not None:
        return DeliveryReport(message_id=message_id, already_delivered=True)
    async with _lease(message_id, timedelta(seconds=settings.mail_lease_seconds)) as lost:
        attempting = await OutboxMessage.filter(id=message_id, delivered_at__isnull=True).update(
            attempts=F("attempts") + 1, last_attempt_at=clock.now()
        )
        if not attempting:  # delivered while this worker waited for the lease
            return DeliveryReport(message_id=message_id, already_delivered=True)
        await journal.recover(journal.directory_of(settings), message, _record_sent)
        emails = await _emails_of(message, settings)
        report = await _send_all(
            message, emails, settings, transport or transport_from_settings(settings), lost
        )
        await OutboxMessage.filter(id=message_id).update(delivered_at=clock.now())
    log.info(
        "outbox message %s (%s) delivered: %d sent, %d sent before",
        message_id,
        message.kind,
        len(report.sent),
        len(report.skipped),
    )
    return report
