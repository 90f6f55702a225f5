"""The owners' decisions on redemptions, and the lists of redemptions. (Redeeming and
cancelling: resolvers/mutations.py.)"""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypeVar

import strawberry

from graph.arguments import AccountId, LearnerEmailFilter, RedemptionStatusFilter, since, until
from graph.connections import Connection, Paging
from graph.context import Info
from graph.ids import from_global_id
from graph.inputs import (
    ApproveRedemptionsInput,
    DenyRedemptionsInput,
)
from graph.payloads import (
    ApproveRedemptionsPayload,
    DecisionsPayload,
    DenyRedemptionsPayload,
)
from graph.types import Redemption
from ledger import redemptions
from ledger.errors import InvalidInput
from resolvers.common import actor_of, list_page, user_errors

D = TypeVar("D", bound=DecisionsPayload)


async def _decide(
    info: Info,
    payload: type[D],
    ids: list[strawberry.ID],
    approve: bool,
    reason: str | None,
) -> D:
    actor = await actor_of(info)
    try:
        parsed = [from_global_id(value, "ids", "Redemption") for value in ids]
        decisions = await redemptions.decide_redemptions(
            actor=actor, ids=parsed, approve=approve, reason=reason
        )
    except InvalidInput as exc:
        return payload(redemptions=[], total_credits=0, errors=user_errors(exc))
    return payload(
        redemptions=[Redemption.from_model(r) for r in decisions.redemptions],
        total_credits=decisions.total_credits,
        errors=[error for exc in decisions.errors for error in user_errors(exc)],
    )


async def approve_redemptions(
    info: Info,
    input: Annotated[
        ApproveRedemptionsInput,
        strawberry.argument(description="The pending redemptions to approve."),
    ],
) -> ApproveRedemptionsPayload:
    return await _decide(info, ApproveRedemptionsPayload, input.ids, approve=True, reason=None)


async def deny_redemptions(
    info: Info,
    input: Annotated[
        DenyRedemptionsInput,
        strawberry.argument(description="The pending redemptions to deny, and why."),
    ],
) -> DenyRedemptionsPayload:
    return await _decide(
        info, DenyRedemptionsPayload, input.ids, approve=False, reason=input.reason
    )


async def list_redemptions(
    info: Info,
    account_id: AccountId = None,
    status: RedemptionStatusFilter = None,
    from_: Annotated[date | None, since("requests made")] = None,
    to: Annotated[date | None, until("requests made")] = None,
    learner_email: LearnerEmailFilter = None,
    *,
    paging: Paging,
) -> Connection[Redemption]:
    return await list_page(
        info,
        Redemption,
        redemptions.list_redemptions,
        paging,
        account_id=account_id,
        status=status,
        start=from_,
        end=to,
        learner_email=learner_email,
    )


async def my_redemptions(
    info: Info, status: RedemptionStatusFilter = None, *, paging: Paging
) -> Connection[Redemption]:
    return await list_page(info, Redemption, redemptions.list_my_redemptions, paging, status=status)
