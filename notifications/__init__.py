"""Notification emails: one template pair (text + HTML) per outbox message kind.

`build_emails(message)` loads the rows an outbox message names and renders one email
per recipient; delivering them is `workers.mail`'s job.
"""

from notifications.build import UnknownKind, build_emails
from notifications.emails import Email

__all__ = ["Email", "UnknownKind", "build_emails"]
