"""An email as the bytes SMTP carries, written directly (decision 0028).

`email.message.EmailMessage` with `policy.default` parses every header it is given and
is flattened again on the way out: about 1 ms of CPU per email, more than rendering,
composing and sending it by hand together. The messages here have one shape (text and
HTML alternatives, a fixed set of headers), so they are written as text: headers that
are plain ASCII and short go out as they are, the others as RFC 2047 encoded words
(`email.header.Header`), bodies as 7bit when they can be and quoted-printable
otherwise. The result is pure ASCII with CRLF line ends, ready for `SMTP.sendmail`.
"""

from __future__ import annotations

import binascii
import email.utils
import hashlib
import uuid
from dataclasses import dataclass
from email.header import Header

from notifications import Email

SMTP_MAX_LINE = 998
FOLD_AT = 78


@dataclass(frozen=True)
class RawEmail:
    """One email for one recipient: the SMTP envelope and the message's bytes."""

    sender: str  # the envelope sender (MAIL FROM), a bare address
    recipient: str  # the one envelope recipient (RCPT TO)
    message_id: str
    data: bytes


@dataclass(frozen=True)
class Sender:
    """The `MAIL_FROM` setting, parsed once: its bare address and its From header."""

    address: str
    header: str

    @classmethod
    def parse(cls, mail_from: str) -> Sender:
        name, address = email.utils.parseaddr(mail_from)
        checked = address_of(address)
        return cls(address=checked, header=_header("From", _mailbox(name, checked)))

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] or "localhost"


def address_of(value: str) -> str:
    """`value` if it can stand in an envelope and a header as it is; ValueError if not."""
    address = value.strip()
    if (
        not address.isascii()
        or address.count("@") != 1
        or any(c.isspace() or c in '<>(),;:"[]\\' for c in address)
        or email.utils.parseaddr(address)[1] != address
    ):
        raise ValueError(f"not a deliverable address: {value!r}")
    return address


def _mailbox(name: str, address: str) -> str:
    return email.utils.formataddr((name, address), charset="utf-8") if name else address


def _header(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"the {name} header would contain a line break")
    if value.isascii() and len(name) + 2 + len(value) <= FOLD_AT:
        return f"{name}: {value}\r\n"
    if "=?" in value and value.isascii():  # a mailbox with an encoded name: fold as it is
        return f"{name}: {value}\r\n"
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n"


def _part(subtype: str, body: str, boundary: str) -> str:
    text = body.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    text = text.replace("\n", "\r\n")
    # 7bit keeps the text readable on the wire (a sentence is never split by soft line
    # breaks); anything else is quoted-printable.
    if text.isascii() and all(len(line) <= SMTP_MAX_LINE for line in text.split("\r\n")):
        encoding, payload = "7bit", text
    else:
        encoding = "quoted-printable"
        payload = binascii.b2a_qp(text.encode(), istext=True).decode("ascii")
    if boundary in payload:
        raise ValueError("the boundary occurs in the body")
    return (
        f"--{boundary}\r\n"
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n{payload}"
    )


def message_id_for(outbox_id: int, recipient: str, domain: str) -> str:
    """The same Message-ID every time one outbox message goes to one recipient."""
    digest = hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:16]
    return f"<outbox-{outbox_id}-{digest}@{domain}>"


def compose_raw(mail: Email, *, outbox_id: int, sender: Sender, date: str) -> RawEmail:
    """`mail` as SMTP-ready bytes; ValueError for an address or header that cannot be."""
    recipient = address_of(mail.to)
    message_id = message_id_for(outbox_id, mail.to, sender.domain)
    boundary = f"=_{uuid.uuid4().hex}"  # "=_" never occurs in quoted-printable
    headers = [
        sender.header,
        _header("To", _mailbox(mail.to_name, recipient)),
        _header("Subject", mail.subject),
        f"Date: {date}\r\n",
        f"Message-ID: {message_id}\r\n",
    ]
    if mail.reply_to:
        headers.append(_header("Reply-To", address_of(mail.reply_to)))
    headers.append("Auto-Submitted: auto-generated\r\n")
    if mail.kind:
        headers.append(_header("X-Training-Credits-Kind", mail.kind))
    headers.append(
        f'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
    )
    text = (
        "".join(headers)
        + _part("plain", mail.text, boundary)
        + _part("html", mail.html, boundary)
        + f"--{boundary}--\r\n"
    )
    return RawEmail(
        sender=sender.address, recipient=recipient, message_id=message_id, data=text.encode()
    )
