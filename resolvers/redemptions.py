"""Redeeming credits at checkout, and the owners' decisions."""

from __future__ import annotations

from datetime import date
from typing import Annotated, TypeVar

import strawberry

from graph.arguments import AccountId, After, Before, First, Last, since, until
from graph.connections import Connection, page_request
from graph.context import Info
from graph.enums import RedemptionStatus
from graph.ids import from_global_id
from graph.inputs import (
    ApproveRedemptionsInput,
    CancelRedemptionInput,
    DenyRedemptionsInput,
    RedeemCreditsInput,
)
from graph.payloads import (
    ApproveRedemptionsPayload,
    CancelRedemptionPayload,
    DecisionsPayload,
    DenyRedemptionsPayload,
    RedeemCreditsPayload,
)
from graph.types import Redemption
from ledger import redemptions
from ledger.errors import InvalidInput
from resolvers.common import actor_of, mutate, parse_id, query_page, user_errors


async def redeem_credits(
    info: Info,
    input: Annotated[
        RedeemCreditsInput,
        strawberry.argument(
            description="The account's redemption code, the course and the idempotency key."
        ),
    ],
) -> RedeemCreditsPayload:
    return await mutate(
        info,
        RedeemCreditsPayload,
        Redemption.from_model,
        lambda actor: redemptions.redeem_credits(
            actor=actor,
            code=input.code,
            course_id=from_global_id(input.course_id, "courseId", "Course"),
            idempotency_key=input.idempotency_key,
            client_address=info.context.client_address,
        ),
    )


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


async def cancel_redemption(
    info: Info,
    input: Annotated[
        CancelRedemptionInput,
        strawberry.argument(description="The caller's own pending redemption."),
    ],
) -> CancelRedemptionPayload:
    return await mutate(
        info,
        CancelRedemptionPayload,
        Redemption.from_model,
        lambda actor: redemptions.cancel_redemption(
            actor=actor, redemption_id=from_global_id(input.id, "id", "Redemption")
        ),
    )


async def list_redemptions(
    info: Info,
    account_id: AccountId = None,
    status: Annotated[
        RedemptionStatus | None,
        strawberry.argument(description="Only requests in this state; all when left out."),
    ] = None,
    from_: Annotated[
        date | None,
        strawberry.argument(name="from", description=since("requests made")),
    ] = None,
    to: Annotated[date | None, strawberry.argument(description=until("requests made"))] = None,
    learner_email: Annotated[
        str | None,
        strawberry.argument(
            description="Only requests by the learner with this email address (the whole "
            "address, in any case)."
        ),
    ] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[Redemption]:
    return await query_page(
        info,
        Redemption.from_model,
        lambda actor: redemptions.list_redemptions(
            actor=actor,
            account_id=parse_id(account_id, "accountId", "Account"),
            status=status,
            start=from_,
            end=to,
            learner_email=learner_email,
            page=page_request(first, after, last, before),
        ),
    )


async def my_redemptions(
    info: Info,
    status: Annotated[
        RedemptionStatus | None,
        strawberry.argument(description="Only requests in this state; all when left out."),
    ] = None,
    first: First = None,
    after: After = None,
    last: Last = None,
    before: Before = None,
) -> Connection[Redemption]:
    return await query_page(
        info,
        Redemption.from_model,
        lambda actor: redemptions.list_my_redemptions(
            actor=actor,
            status=status,
            page=page_request(first, after, last, before),
        ),
    )
