"""Redemptions: learners spend an account's credits on courses with its code.

Approval draws credits from the account's unexpired lots, soonest expiry first (then
oldest, then lowest id), across several lots when needed; every lot touched gets a
REDEMPTION entry and a draw. Locks: the account, then the redemption, then the lots in
draw order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ledger import access, clock, codes, events, outbox, throttle
from ledger.actors import Actor
from ledger.db import atomic, lock_account
from ledger.draws import LotDraw, draw_from_lots
from ledger.errors import (
    CourseUnavailable,
    InsufficientCredits,
    InvalidCode,
    InvalidInput,
    LedgerError,
    NotFound,
    NotPending,
)
from ledger.idempotency import (
    Response,
    raise_stored_error,
    run_once,
    stored_answer,
    validate_key,
)
from ledger.pages import Page, newest_first
from ledger.text import clean_text
from models import (
    Account,
    ApprovalMode,
    Course,
    Draw,
    EntryKind,
    LedgerEntry,
    Redemption,
    RedemptionStatus,
)

MAX_BATCH = 100
MAX_REASON = 1000
# Every list of redemptions shows the course and the learner: one join, not two lookups.
LISTED_WITH = ("course", "learner")


async def record_draws(
    *,
    account: Account,
    redemption: Redemption,
    draws: list[LotDraw],
    actor_id: int | None,
    now: datetime,
) -> None:
    """A draw and a REDEMPTION entry for each lot the credits came from."""
    for draw in draws:
        await Draw.create(redemption=redemption, lot=draw.lot, credits=draw.credits)
        await LedgerEntry.create(
            account=account,
            lot=draw.lot,
            kind=EntryKind.REDEMPTION,
            credits=-draw.credits,
            balance_after=draw.balance_after,
            actor_id=actor_id,
            redemption=redemption,
            created_at=now,
        )


async def draw_credits(
    *, account: Account, redemption: Redemption, actor_id: int | None, now: datetime
) -> None:
    """Take the redemption's credits from the lots, recording each draw and entry."""
    draws = await draw_from_lots(account_id=account.id, credits=redemption.credits, now=now)
    await record_draws(
        account=account, redemption=redemption, draws=draws, actor_id=actor_id, now=now
    )


def _approves_at_once(account: Account, credits: int) -> bool:
    if account.approval_mode is ApprovalMode.AUTOMATIC:
        return True
    limit = account.auto_approve_limit
    return limit is not None and credits <= limit


async def redeem_credits(
    *, actor: Actor, code: str, course_id: int, idempotency_key: str, client_address: str = ""
) -> Redemption:
    """A learner pays for a course with an account's code.

    Approved at once when the account approves automatically (or the price is within
    its auto-approve limit) and the balance covers it, else INSUFFICIENT_CREDITS with
    nothing recorded; otherwise PENDING for the owners to decide.
    """
    key = validate_key(idempotency_key)
    normalised = codes.normalise_code(code)
    code_hash = codes.hash_code(normalised) if normalised else ""
    payload = {"code_hash": code_hash, "course_id": course_id}
    stored = await stored_answer(
        user_id=actor.user_id, operation="redeemCredits", key=key, payload=payload
    )
    if stored is not None:
        raise_stored_error(stored)
        return await Redemption.get(id=stored["redemption_id"])
    await throttle.take_code_attempt(user_id=actor.user_id)
    account = await Account.get_or_none(code_hash=code_hash) if code_hash else None
    if account is None:
        await throttle.record_wrong_code(user_id=actor.user_id, address=client_address)
        raise InvalidCode("that redemption code is not valid", field=["code"])
    await throttle.return_code_attempt(user_id=actor.user_id)
    course = await Course.get_or_none(id=course_id)
    if course is None or not course.active:
        raise CourseUnavailable("that course cannot be bought now", field=["courseId"])

    created: list[Redemption] = []

    async def request() -> Response:
        locked = await lock_account(account.id)
        if locked is None or locked.code_hash != code_hash:
            raise InvalidCode("that redemption code is not valid", field=["code"])
        now = clock.now()
        approve = _approves_at_once(locked, course.price_credits)
        draws: list[LotDraw] = []
        if approve:
            # Take the credits first: it raises, changing nothing, when the balance does
            # not cover the price; then the redemption is written approved at once.
            try:
                draws = await draw_from_lots(
                    account_id=locked.id, credits=course.price_credits, now=now
                )
            except InsufficientCredits:
                error = InsufficientCredits("the account does not have enough credits for this")
                return {"error": error.to_dict()}
        redemption = await Redemption.create(
            account=locked,
            learner_id=actor.user_id,
            course=course,
            credits=course.price_credits,
            status=RedemptionStatus.APPROVED if approve else RedemptionStatus.PENDING,
            requested_at=now,
            decided_at=now if approve else None,
        )
        if approve:
            await record_draws(
                account=locked, redemption=redemption, draws=draws, actor_id=actor.user_id, now=now
            )
        kind = events.REDEMPTION_APPROVED if approve else events.REDEMPTION_REQUESTED
        await outbox.enqueue(kind, redemption_id=redemption.id)
        created.append(redemption)
        return {"redemption_id": redemption.id}

    response = await run_once(
        user_id=actor.user_id,
        operation="redeemCredits",
        key=key,
        payload=payload,
        effect=request,
        looked_up=True,
    )
    raise_stored_error(response)
    # The row this call wrote (the last attempt's, should a retry have run the effect
    # again), or the first call's when a concurrent duplicate won the key.
    if created and created[-1].id == response["redemption_id"]:
        return created[-1]
    return await Redemption.get(id=response["redemption_id"])


@dataclass
class Decisions:
    redemptions: list[Redemption] = field(default_factory=list)
    total_credits: int = 0
    errors: list[LedgerError] = field(default_factory=list)


def _check_batch(ids: list[int], reason: str | None) -> None:
    if not 1 <= len(ids) <= MAX_BATCH:
        raise InvalidInput(f"give 1 to {MAX_BATCH} redemption ids", field=["ids"])
    if reason is not None:
        clean_text(reason, "reason", max_length=MAX_REASON, multiline=True)


async def _decide_one(
    *, redemption_id: int, account_id: int, actor: Actor, approve: bool, reason: str | None
) -> Redemption:
    account = await lock_account(account_id)
    redemption = await Redemption.select_for_update().get_or_none(id=redemption_id)
    if account is None or redemption is None:
        raise NotFound("no such redemption")
    if redemption.status is not RedemptionStatus.PENDING:
        raise NotPending(f"this redemption is already {redemption.status.value.lower()}")
    now = clock.now()
    if approve:
        await draw_credits(account=account, redemption=redemption, actor_id=actor.user_id, now=now)
    redemption.status = RedemptionStatus.APPROVED if approve else RedemptionStatus.DENIED
    redemption.decided_at, redemption.decided_by_id = now, actor.user_id
    redemption.reason = None if approve else reason  # type: ignore[assignment]
    await redemption.save(update_fields=["status", "decided_at", "decided_by_id", "reason"])
    kind = events.REDEMPTION_APPROVED if approve else events.REDEMPTION_DENIED
    await outbox.enqueue(kind, redemption_id=redemption.id)
    return redemption


async def decide_redemptions(
    *, actor: Actor, ids: list[int], approve: bool, reason: str | None = None
) -> Decisions:
    """Approve or deny many at once, oldest request first; each stands or fails alone."""
    _check_batch(ids, reason)
    reason = reason.strip() if reason and reason.strip() else None
    rows = await access.redemptions_for_owner(actor, ids)
    decisions = Decisions()
    position = {rid: i for i, rid in reversed(list(enumerate(ids)))}
    mine = []
    for rid, index in sorted(position.items(), key=lambda item: item[1]):
        row = rows.get(rid)
        if row is None:
            decisions.errors.append(NotFound("no such redemption", field=["ids", str(index)]))
        else:
            mine.append(row)
    for row in sorted(mine, key=lambda r: (r.requested_at, r.id)):
        try:
            decided = await atomic(
                lambda row=row: _decide_one(  # type: ignore[misc]
                    redemption_id=row.id,
                    account_id=row.account_id,
                    actor=actor,
                    approve=approve,
                    reason=reason,
                )
            )
        except LedgerError as exc:
            exc.field = ["ids", str(position[row.id])]
            decisions.errors.append(exc)
            continue
        decisions.redemptions.append(decided)
        if approve:
            decisions.total_credits += decided.credits
    return decisions


async def cancel_redemption(*, actor: Actor, redemption_id: int) -> Redemption:
    """The learner withdraws a request that is still pending."""
    row = await access.redemption_for_learner(actor, redemption_id)

    async def cancel() -> Redemption:
        await lock_account(row.account_id)
        redemption = await Redemption.select_for_update().get(id=row.id)
        if redemption.status is not RedemptionStatus.PENDING:
            raise NotPending(
                f"this redemption is already {redemption.status.value.lower()}", field=["id"]
            )
        redemption.status = RedemptionStatus.CANCELLED
        redemption.decided_at, redemption.decided_by_id = clock.now(), actor.user_id
        await redemption.save(update_fields=["status", "decided_at", "decided_by_id"])
        await outbox.enqueue(events.REDEMPTION_CANCELLED, redemption_id=redemption.id)
        return redemption

    return await atomic(cancel)


async def list_redemptions(
    *,
    actor: Actor,
    account_id: int | None,
    status: RedemptionStatus | None,
    first: int | None,
    after: int | None,
) -> Page[Redemption]:
    account = await access.account_for(actor, account_id)
    query = Redemption.filter(account_id=account.id)
    if status is not None:
        query = query.filter(status=status)
    return await newest_first(query, first=first, after=after, related=LISTED_WITH)


async def list_my_redemptions(
    *, actor: Actor, status: RedemptionStatus | None, first: int | None, after: int | None
) -> Page[Redemption]:
    query = Redemption.filter(learner_id=actor.user_id)
    if status is not None:
        query = query.filter(status=status)
    return await newest_first(query, first=first, after=after, related=LISTED_WITH)
