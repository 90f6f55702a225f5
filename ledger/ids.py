"""Ids from clients: GraphQL arguments, export parameters, cursors and signed links."""

from __future__ import annotations

import base64

from ledger.errors import InvalidInput

# Every id is a 32-bit integer column: a larger one (or zero, or a negative one) names
# no row, and the database would refuse it rather than answer "not found".
MAX_ID = 2**31 - 1


def require_id(value: object, field: str) -> int:
    """`value` (an int or its text) as an id, or INVALID_INPUT naming `field`."""
    try:
        parsed = int(str(value))
    except ValueError as exc:
        raise InvalidInput(f"{field} is not a valid id", field=[field]) from exc
    if not 1 <= parsed <= MAX_ID:
        raise InvalidInput(f"{field} is not a valid id", field=[field])
    return parsed


def global_id(type_name: str, pk: int) -> str:
    """The API's id of row `pk` of `type_name` (graph/ids.py): what clients, and the
    webhook bodies they receive, call it."""
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")
