"""Arguments that several root fields share, with their descriptions: resolvers annotate
their parameters with these (`first: First = None`), so every list documents paging and
the account argument the same way."""

from __future__ import annotations

from typing import Annotated

import strawberry

First = Annotated[
    int | None,
    strawberry.argument(
        description="How many items to read forward (newest first), from the start or from "
        "`after`: 20 when left out, 0 to 100 (more is INVALID_INPUT). Not with `last`."
    ),
]
After = Annotated[
    str | None,
    strawberry.argument(
        description="Read the items after (older than) this cursor: an `Edge.cursor` or "
        "`PageInfo.endCursor` of this list."
    ),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description="How many items to read backward: those just before (newer than) "
        "`before`, or the list's oldest; still listed newest first. 0 to 100; not with "
        "`first`."
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(
        description="Read the items before (newer than) this cursor: an `Edge.cursor` or "
        "`PageInfo.startCursor` of this list."
    ),
]
AccountId = Annotated[
    strawberry.ID | None,
    strawberry.argument(
        description="The account (an `Account.id`); left out, the account the caller owns "
        "(NOT_FOUND if they own none). Only support staff may name an account they do not "
        "own: for anyone else it is NOT_FOUND."
    ),
]


def since(what: str) -> str:
    """The description of a `from` day argument filtering on `what`."""
    return f"Only {what} on or after this day (UTC, included); must not be after `to`."


def until(what: str) -> str:
    """The description of a `to` day argument filtering on `what`."""
    return f"Only {what} on or before this day (UTC, included)."
