"""Free text from clients: trimmed, bounded, and without characters that cannot be stored.

PostgreSQL refuses NUL in text and SQLite's length() stops at it; a lone surrogate
("\\ud800", valid in JSON) cannot be encoded as UTF-8 at all, so neither database takes
it. Such input must be refused here, as INVALID_INPUT, not fail later in the database.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InvalidInput
from models import limits

_ALLOWED_IN_PARAGRAPHS = {"\n", "\r", "\t"}
# Control characters and lone surrogates (the halves of a pair that never met).
_UNSTORABLE = {"Cc", "Cs"}


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """True when `value` holds a control character or a lone surrogate."""
    allowed = _ALLOWED_IN_PARAGRAPHS if multiline else set()
    return any(unicodedata.category(ch) in _UNSTORABLE and ch not in allowed for ch in value)


def clean_text(
    value: str, field: str, *, max_length: int, min_length: int = 0, multiline: bool = False
) -> str:
    value = value.strip()
    if has_control_characters(value, multiline=multiline):
        raise InvalidInput(f"{field} contains control characters or invalid Unicode", field=[field])
    if not min_length <= len(value) <= max_length:
        raise InvalidInput(
            f"{field} must be {min_length} to {max_length} characters", field=[field]
        )
    return value


def clean_reason(value: str, field: str = "reason") -> str:
    """Why someone acted: required, a paragraph at most `limits.REASON` long."""
    return clean_text(value, field, min_length=1, max_length=limits.REASON, multiline=True)


def _invisible(ch: str) -> bool:
    # C*: controls, format characters (zero-width, bidi overrides, BOM, soft hyphen),
    # surrogates, private use, unassigned. Z*: every kind of space and separator.
    return ch.isspace() or unicodedata.category(ch)[0] in "CZ"


def clean_email(value: str, field: str) -> str:
    """An address, trimmed and lower-cased: one '@' with something on each side, at most
    `limits.EMAIL` characters, and nothing invisible, so that two addresses that look
    alike are alike (an owner reads the address they add)."""
    email = value.strip().lower()
    if any(_invisible(ch) for ch in email):
        raise InvalidInput(
            f"{field} contains spaces, control or invisible characters", field=[field]
        )
    local, _, domain = email.rpartition("@")
    if not local or not domain or "@" in local:
        raise InvalidInput(f"{field} is not an email address", field=[field])
    if len(email) > limits.EMAIL:
        raise InvalidInput(f"{field} must be at most {limits.EMAIL} characters", field=[field])
    return email
