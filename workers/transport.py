"""How a composed email leaves the process: SMTP, or `.eml` files in a directory.

`transport_from_settings` picks SMTP when `SMTP_HOST` is set, else the mail directory
(the embedded default). Transports raise `SendError`, marked permanent when retrying
cannot help (the server refused the recipient or the message for good).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
import weakref
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from settings import Settings
from workers.compose import RawEmail

log = logging.getLogger("credits.mail")

SMTP_TIMEOUT_SECONDS = 30.0
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@+-]")


class SendError(Exception):
    """The message was not accepted. `permanent`: the same message will never be."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


Outgoing = RawEmail | EmailMessage  # deliveries send bytes; an EmailMessage is flattened


class Transport(Protocol):
    async def send(self, message: Outgoing) -> None:
        """Return once the message is accepted; raise `SendError` otherwise."""


def _refused_for_good(exc: aiosmtplib.SMTPException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return exc.code >= 500
    # Anything else (connection, timeout, authentication, sender) is the server's or
    # our configuration's problem, not this message's: worth retrying.
    return False


@dataclass
class _Connection:
    client: aiosmtplib.SMTP
    sent: int = 0
    idle_since: float = 0.0


# Connections kept open between emails, per event loop (an SMTP client belongs to the
# loop it connected on: the worker's, the server's, each test's) and per transport.
_IDLE: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[SmtpTransport, list[_Connection]]
] = weakref.WeakKeyDictionary()
MAX_IDLE_CONNECTIONS = 8  # and as many sends at once per event loop (decision 0028)
IDLE_SECONDS = 20.0  # well under the 5 minutes after which servers commonly hang up
MESSAGES_PER_CONNECTION = 100  # some servers refuse more on one connection
_GATES: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[SmtpTransport, asyncio.Semaphore]
] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class SmtpTransport:
    """SMTP through aiosmtplib, reusing a few open connections between emails.

    A reused connection the server has closed meanwhile is replaced once, transparently;
    any other failure closes the connection it happened on.
    """

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    use_tls: bool = False
    timeout: float = SMTP_TIMEOUT_SECONDS

    def _idle(self) -> list[_Connection]:
        return _IDLE.setdefault(asyncio.get_running_loop(), {}).setdefault(self, [])

    def _reusable(self) -> _Connection | None:
        idle, now = self._idle(), time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.client.is_connected and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.client.close()
        return None

    async def _connect(self) -> _Connection:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls and not self.use_tls,
            timeout=self.timeout,
        )
        await client.connect()
        return _Connection(client)

    async def _release(self, connection: _Connection) -> None:
        connection.sent += 1
        idle = self._idle()
        if connection.sent >= MESSAGES_PER_CONNECTION or len(idle) >= MAX_IDLE_CONNECTIONS:
            await _quit(connection.client)
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    def _gate(self) -> asyncio.Semaphore:
        gates = _GATES.setdefault(asyncio.get_running_loop(), {})
        return gates.setdefault(self, asyncio.Semaphore(MAX_IDLE_CONNECTIONS))

    async def send(self, message: Outgoing) -> None:
        async with self._gate():  # a bounded number of connections, all of them reusable
            await self._send(message)

    async def _send(self, message: Outgoing) -> None:
        connection = self._reusable()
        try:
            if connection is not None:
                try:
                    await _transmit(connection.client, message)
                except (aiosmtplib.SMTPServerDisconnected, OSError):
                    connection.client.close()  # it hung up while idle: once more, afresh
                    connection = None
            if connection is None:
                connection = await self._connect()
                await _transmit(connection.client, message)
        except BaseException as exc:  # a failure, or cancelled mid-send: never reuse it
            if connection is not None:
                connection.client.close()
            if isinstance(exc, aiosmtplib.SMTPException):
                raise SendError(
                    f"{type(exc).__name__}: {exc}", permanent=_refused_for_good(exc)
                ) from exc
            if isinstance(exc, OSError):
                raise SendError(f"{type(exc).__name__}: {exc}") from exc
            raise
        await self._release(connection)


async def _transmit(client: aiosmtplib.SMTP, message: Outgoing) -> None:
    if isinstance(message, RawEmail):  # already flat: no second pass through `email`
        await client.sendmail(message.sender, [message.recipient], message.data)
    else:
        await client.send_message(message)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


def eml_filename(message: Outgoing) -> str:
    if isinstance(message, RawEmail):
        message_id = message.message_id.strip("<>")
    else:
        message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    return _UNSAFE_FILENAME.sub("_", message_id or uuid.uuid4().hex) + ".eml"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)


@dataclass(frozen=True)
class DirectoryTransport:
    """Development and tests without SMTP: each message becomes `<Message-ID>.eml`."""

    directory: Path

    async def send(self, message: Outgoing) -> None:
        path = self.directory / eml_filename(message)
        if isinstance(message, RawEmail):
            data, to = message.data, message.recipient
        else:
            data, to = message.as_bytes(), str(message["To"])
        try:
            await asyncio.to_thread(_write_atomically, path, data)
        except OSError as exc:
            raise SendError(f"cannot write {path}: {exc}") from exc
        log.info("mail to %s written to %s", to, path)


def transport_from_settings(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user or None,
            password=settings.smtp_password.get_secret_value() or None,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
        )
    return DirectoryTransport(Path(settings.mail_dir))
