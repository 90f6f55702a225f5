"""Arguments that several root fields share, with their descriptions: resolvers annotate
their parameters with these (`account_id: AccountId = None`, `status: LotStatusFilter =
None`), so every list documents its account, filters and days the same way. Paging
arguments are added to each connection field by `graph.connections.Paged`."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types.arguments import StrawberryArgumentAnnotation

from graph.enums import LotStatus, QuoteStatus, RedemptionStatus, TransactionKind

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


def since(what: str) -> StrawberryArgumentAnnotation:
    """A `from` day argument filtering on `what` (its parameter is `from_`)."""
    return strawberry.argument(
        name="from",
        description=f"Only {what} on or after this day (UTC, included); must not be after `to`.",
    )


def until(what: str) -> StrawberryArgumentAnnotation:
    """A `to` day argument filtering on `what`."""
    return strawberry.argument(description=f"Only {what} on or before this day (UTC, included).")


def only(what: str) -> StrawberryArgumentAnnotation:
    """An argument that keeps only `what`, and all when left out."""
    return strawberry.argument(description=f"Only {what}; all when left out.")


def only_for(dataset: str, what: str, other: str) -> StrawberryArgumentAnnotation:
    """An export's filter that applies to one `dataset`, and that the `other` ignores."""
    return strawberry.argument(description=f"{dataset} only: only {what} (ignored for {other}).")


# The lists' filters.
LotStatusFilter = Annotated[LotStatus | None, only("lots in this state now")]
QuoteStatusFilter = Annotated[QuoteStatus | None, only("requests in this state")]
RedemptionStatusFilter = Annotated[RedemptionStatus | None, only("requests in this state")]
TransactionKindFilter = Annotated[TransactionKind | None, only("entries of this kind")]
LearnerEmailFilter = Annotated[
    str | None,
    strawberry.argument(
        description="Only requests by the learner with this email address (the whole "
        "address, in any case)."
    ),
]
AccountSearch = Annotated[
    str | None,
    strawberry.argument(
        description="Only accounts whose name or an owner's email contains this text, "
        "in any case (at most 200 characters); all when left out or blank."
    ),
]

# The export link's filters, each of one dataset.
ExportKindFilter = Annotated[
    TransactionKind | None, only_for("TRANSACTIONS", "entries of this kind", "REDEMPTIONS")
]
ExportStatusFilter = Annotated[
    RedemptionStatus | None, only_for("REDEMPTIONS", "requests in this state", "TRANSACTIONS")
]
