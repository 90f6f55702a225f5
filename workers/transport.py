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
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from settings import Settings

log = logging.getLogger("credits.mail")

SMTP_TIMEOUT_SECONDS = 30.0
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@+-]")


class SendError(Exception):
    """The message was not accepted. `permanent`: the same message will never be."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Return once the message is accepted; raise `SendError` otherwise."""


def _refused_for_good(exc: aiosmtplib.SMTPException) -> bool:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return bool(exc.recipients) and all(r.code >= 500 for r in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        return exc.code >= 500
    # Anything else (connection, timeout, authentication, sender) is the server's or
    # our configuration's problem, not this message's: worth retrying.
    return False


@dataclass(frozen=True)
class SmtpTransport:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    start_tls: bool = False
    use_tls: bool = False
    timeout: float = SMTP_TIMEOUT_SECONDS

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.start_tls and not self.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPException as exc:
            raise SendError(
                f"{type(exc).__name__}: {exc}", permanent=_refused_for_good(exc)
            ) from exc
        except OSError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc


def eml_filename(message: EmailMessage) -> str:
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

    async def send(self, message: EmailMessage) -> None:
        path = self.directory / eml_filename(message)
        try:
            await asyncio.to_thread(_write_atomically, path, message.as_bytes())
        except OSError as exc:
            raise SendError(f"cannot write {path}: {exc}") from exc
        log.info("mail to %s written to %s: %s", message["To"], path, message["Subject"])


def transport_from_settings(settings: Settings) -> Transport:
    if settings.smtp_host:
        return SmtpTransport(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user or None,
            password=settings.smtp_password or None,
            start_tls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
        )
    return DirectoryTransport(Path(settings.mail_dir))
