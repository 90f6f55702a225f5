"""Relay global IDs: opaque to clients, `base64url("<Type>:<id>")` underneath.

Every object with an id answers it this way, and every id argument takes it back. A raw
number, another type's id or anything else that is not an id of this API answers
INVALID_INPUT naming the argument; a well-formed id of a row the caller may not see
answers as a missing row would (decision 5).
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from ledger.errors import InvalidInput
from ledger.ids import global_id, require_id


@lru_cache(maxsize=65_536)  # a page of 100 answers 100 ids; the same ones, often
def to_global_id(type_name: str, pk: int) -> str:
    return global_id(type_name, pk)


def split_global_id(value: object) -> tuple[str, str] | None:
    """(type name, key text) of a global id, or None when `value` is not one."""
    text = str(value)
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    type_name, colon, key = raw.partition(":")
    if not colon or not type_name.isalpha() or not type_name[:1].isupper():
        return None
    return type_name, key


def from_global_id(value: object, field: str, *types: str) -> int:
    """The row id inside a global id of one of `types`, or INVALID_INPUT naming `field`."""
    parts = split_global_id(value)
    if parts is None:
        raise InvalidInput(f"{field} is not an id from this API", field=[field])
    type_name, key = parts
    if type_name not in types:
        wanted = " or ".join(types)
        raise InvalidInput(f"{field} must be the id of a {wanted}", field=[field])
    pk = require_id(key, field)
    # One id per object: `Lot:02`, `Lot: 2` or a padded form would name the same row under
    # another id, which confuses clients that cache by id.
    if to_global_id(type_name, pk) != str(value):
        raise InvalidInput(f"{field} is not an id from this API", field=[field])
    return pk


def optional_global_id(value: object | None, field: str, *types: str) -> int | None:
    return None if value is None else from_global_id(value, field, *types)
