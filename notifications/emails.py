"""What the renderer hands to the mailer: one email for one recipient."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    kind: str = ""
    to_name: str = ""
    reply_to: str | None = None

    @property
    def recipient(self) -> str:
        """The key under which a delivery to this address is recorded."""
        return recipient_key(self.to)


def recipient_key(address: str) -> str:
    return address.strip().lower()
