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
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from tortoise.exceptions import DoesNotExist, IntegrityError
from tortoise.expressions import F

from ledger import clock
from models import EmailDelivery, JobLease, OutboxMessage
from notifications import Email, build_emails
from settings import Settings, get_settings
from workers.transport import SendError, Transport, transport_from_settings

log = logging.getLogger("credits.mail")

MAX_ERROR_LENGTH = 2000
SMTP_MAX_LINE = 998


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
    digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:16]
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<outbox-{outbox_id}-{digest}@{domain}>"


def _transfer_encoding(body: str) -> str:
    # 7bit keeps the text readable on the wire (a sentence is never split by soft
    # line breaks); anything else is quoted-printable.
    if body.isascii() and all(len(line) <= SMTP_MAX_LINE for line in body.splitlines()):
        return "7bit"
    return "quoted-printable"


def compose(mail: Email, *, outbox_id: int, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.utils.formataddr((mail.to_name, mail.to))
    message["Subject"] = mail.subject
    message["Date"] = email.utils.format_datetime(clock.now())
    message["Message-ID"] = message_id_for(outbox_id, mail.to, sender)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message["Auto-Submitted"] = "auto-generated"
    if mail.kind:
        message["X-Training-Credits-Kind"] = mail.kind
    message.set_content(mail.text, cte=_transfer_encoding(mail.text))
    message.add_alternative(mail.html, subtype="html", cte=_transfer_encoding(mail.html))
    return message


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


async def _record_sent(message_id: int, recipient: str) -> None:
    try:
        await _after_send(
            f"recording {recipient} as sent",
            lambda: EmailDelivery.create(
                message_id=message_id, recipient=recipient, sent_at=clock.now()
            ),
        )
    except IntegrityError:
        log.warning("outbox message %s: %s was already recorded as sent", message_id, recipient)


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
    failures: list[tuple[str, SendError]] = []
    for mail in emails:
        if mail.recipient in done:
            report.skipped.append(mail.recipient)
            continue
        try:
            composed = compose(mail, outbox_id=message.id, sender=settings.mail_from)
        except ValueError as exc:  # an address or header the email package refuses
            failures.append((mail.recipient, SendError(f"cannot compose: {exc}", permanent=True)))
            continue
        if lease_lost.is_set():  # the new holder sends the rest; two would email twice
            raise DeliveryBusy(f"outbox message {message.id}: lease lost mid-delivery")
        try:
            await transport.send(composed)
        except SendError as exc:
            failures.append((mail.recipient, exc))
            if not exc.permanent:
                break  # the server is the problem: the others would fail the same way
            continue
        await _record_sent(message.id, mail.recipient)
        report.sent.append(mail.recipient)
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
        await message.refresh_from_db(fields=["delivered_at"])
        if message.delivered_at is not None:
            return DeliveryReport(message_id=message_id, already_delivered=True)
        await OutboxMessage.filter(id=message_id).update(
            attempts=F("attempts") + 1, last_attempt_at=clock.now()
        )
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
