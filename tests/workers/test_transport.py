import asyncio
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from tests.notifications.factories import mail_settings
from workers.transport import (
    DirectoryTransport,
    SendError,
    SmtpTransport,
    eml_filename,
    transport_from_settings,
)


def _message(to: str = "ann@example.com") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "credits@credits.example"
    message["To"] = to
    message["Subject"] = "Hello"
    message["Message-ID"] = "<outbox-1-abc@credits.example>"
    message.set_content("Hello there")
    return message


def test_smtp_when_a_host_is_set_else_the_mail_directory(tmp_path):
    smtp = transport_from_settings(
        mail_settings(
            smtp_host="mail.example",
            smtp_port=587,
            smtp_user="u",
            smtp_password="p",
            smtp_starttls=True,
        )
    )
    assert smtp == SmtpTransport(
        host="mail.example", port=587, username="u", password="p", start_tls=True
    )
    files = transport_from_settings(mail_settings(mail_dir=str(tmp_path / "out")))
    assert files == DirectoryTransport(tmp_path / "out")


async def test_smtp_delivers_to_a_real_server(smtp):
    await transport_from_settings(smtp.settings()).send(_message())
    assert smtp.inbox.recipients() == ["ann@example.com"]
    assert smtp.inbox.received[0].message["Subject"] == "Hello"


async def test_a_refused_recipient_is_a_permanent_failure(smtp):
    smtp.inbox.refuse.add("nobody@example.com")
    with pytest.raises(SendError) as caught:
        await transport_from_settings(smtp.settings()).send(_message("nobody@example.com"))
    assert caught.value.permanent
    assert "550" in str(caught.value)


async def test_a_server_that_is_down_is_a_temporary_failure(smtp):
    smtp.stop()
    with pytest.raises(SendError) as caught:
        await transport_from_settings(smtp.settings()).send(_message())
    assert not caught.value.permanent


async def test_the_directory_is_created_and_named_after_the_message_id(tmp_path):
    transport = DirectoryTransport(tmp_path / "a" / "b")
    await transport.send(_message())
    (written,) = (tmp_path / "a" / "b").iterdir()
    assert written.name == "outbox-1-abc@credits.example.eml"
    assert b"Hello there" in written.read_bytes()


def test_a_hostile_message_id_cannot_leave_the_directory():
    message = _message()
    message.replace_header("Message-ID", "<../../etc/passwd>")
    name = eml_filename(message)
    assert "/" not in name and Path(name).name == name


async def test_emails_share_an_smtp_connection(smtp):
    transport = transport_from_settings(smtp.settings())
    for to in ("ann@example.com", "bob@example.com", "cy@example.com"):
        await transport.send(_message(to))
    assert smtp.inbox.recipients() == ["ann@example.com", "bob@example.com", "cy@example.com"]
    assert len({r.peer for r in smtp.inbox.received}) == 1


async def test_a_connection_the_server_dropped_is_replaced_without_losing_the_email(smtp):
    transport = transport_from_settings(smtp.settings())
    await transport.send(_message("ann@example.com"))
    smtp.stop()  # the server restarts: the idle connection is dead
    smtp.start()
    await transport.send(_message("bob@example.com"))
    assert smtp.inbox.recipients() == ["ann@example.com", "bob@example.com"]
    assert len({r.peer for r in smtp.inbox.received}) == 2


async def test_a_refusal_on_a_reused_connection_is_permanent_and_the_next_email_goes(smtp):
    transport = transport_from_settings(smtp.settings())
    await transport.send(_message("ann@example.com"))
    smtp.inbox.refuse.add("nobody@example.com")
    with pytest.raises(SendError) as caught:
        await transport.send(_message("nobody@example.com"))
    assert caught.value.permanent
    await transport.send(_message("bob@example.com"))
    assert smtp.inbox.recipients() == ["ann@example.com", "bob@example.com"]


async def test_a_send_cancelled_mid_message_closes_its_connection(smtp, monkeypatch):
    """A time limit or a shutdown cancels a send half-way: that connection is closed, not
    leaked nor handed to the next message in the middle of its DATA."""
    closed: list[aiosmtplib.SMTP] = []
    close = aiosmtplib.SMTP.close

    def closing(client: aiosmtplib.SMTP) -> None:
        closed.append(client)
        close(client)

    monkeypatch.setattr(aiosmtplib.SMTP, "close", closing)
    smtp.inbox.delay = 5.0  # kept at once, answered much later
    transport = SmtpTransport(host="127.0.0.1", port=smtp.port)
    sending = asyncio.create_task(transport.send(_message()))
    await asyncio.wait_for(asyncio.to_thread(_kept, smtp), timeout=10)
    sending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sending
    assert transport._idle() == []  # nothing kept for reuse
    assert len(closed) == 1  # and the connection closed
    smtp.inbox.delay = 0.0
    await transport.send(_message("bob@example.com"))  # a fresh connection works
    assert smtp.inbox.recipients() == ["ann@example.com", "bob@example.com"]


def _kept(smtp) -> None:  # type: ignore[no-untyped-def]
    """Until the server has kept a copy (it answers later)."""
    while not smtp.inbox.received:
        time.sleep(0.01)
