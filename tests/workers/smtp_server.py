"""A real SMTP server on loopback (aiosmtpd) that keeps what it accepts."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from settings import Settings
from tests.notifications.factories import mail_settings


@dataclass(frozen=True)
class Received:
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage
    peer: Any = None  # the client's (address, port): one per SMTP connection


class Inbox:
    """aiosmtpd handler. Addresses in `refuse` are rejected with 550 at RCPT; with a
    `delay`, each message is kept at once but accepted (250) only that many seconds later."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.delay = 0.0
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = bytes(envelope.content)
        message = BytesParser(policy=policy.default).parsebytes(raw)
        with self._lock:
            self.received.append(
                Received(list(envelope.rcpt_tos), raw, message, session.peer)  # type: ignore[arg-type]
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def recipients(self) -> list[str]:
        with self._lock:
            return sorted(a for r in self.received for a in r.rcpt_tos)


def free_port() -> int:
    # aiosmtpd's readiness probe cannot use port 0 (aiosmtpd#276): find one ourselves.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SmtpServer:
    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self, **overrides: object) -> Settings:
        return mail_settings(smtp_host="127.0.0.1", smtp_port=self.port, **overrides)

    def worker_env(self) -> dict[str, str]:
        """The environment of a worker process that sends here as `settings` does in this
        one, promptly: it polls the outbox every 0.2 s and retries a failed send after 0.2 s."""
        settings = self.settings()
        return {
            "SMTP_HOST": settings.smtp_host,
            "SMTP_PORT": str(settings.smtp_port),
            "MAIL_FROM": settings.mail_from,
            "OUTBOX_POLL_SECONDS": "0.2",
            "MAIL_RETRY_MIN_BACKOFF_MS": "200",
        }
