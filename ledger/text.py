"""Free text from clients: trimmed, bounded, and without control characters.

PostgreSQL refuses NUL in text and SQLite's length() stops at it, so such input must be
refused here, as INVALID_INPUT, not fail later in the database.
"""

from __future__ import annotations

import unicodedata

from ledger.errors import InvalidInput

_ALLOWED_IN_PARAGRAPHS = {"\n", "\r", "\t"}


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    allowed = _ALLOWED_IN_PARAGRAPHS if multiline else set()
    return any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value)


def clean_text(
    value: str, field: str, *, max_length: int, min_length: int = 0, multiline: bool = False
) -> str:
    value = value.strip()
    if has_control_characters(value, multiline=multiline):
        raise InvalidInput(f"{field} contains control characters", field=[field])
    if not min_length <= len(value) <= max_length:
        raise InvalidInput(
            f"{field} must be {min_length} to {max_length} characters", field=[field]
        )
    return value
