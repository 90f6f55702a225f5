"""Redemptions: learners spend an account's credits on courses with its code.

Approval draws credits from the account's unexpired lots, soonest expiry first (then
oldest, then lowest id), across several lots when needed; every lot touched gets a
REDEMPTION entry and a draw. Locks: the account, then the redemption, then the lots in
draw order. On PostgreSQL the critical sections of redeem, approve and deny are one
statement each (the functions of migration 0008, decision 29); SQLite runs the Python
path below, which is what those functions must write.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import TypeVar

from tortoise.models import Model

from ledger import access, clock, codes, entries, outbox, reads, throttle
from ledger.actors import Actor
from ledger.db import at_locked_accounts, atomic, is_postgres, lock_account, retried
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
from ledger.events import OutboxKind
from ledger.idempotency import (
    Attempt,
    Response,
    raise_stored_error,
    replay,
    request_hash,
    run_once,
    stored_answer,
    validate_key,
)
from ledger.pages import Page, PageRequest, check_days
from ledger.reads import Row, Where, fetch_rows, model_pages
from ledger.text import clean_email, clean_text
from models import (
    Account,
    ApprovalMode,
    Course,
    Draw,
    EntryKind,
    IdempotencyRecord,
    Redemption,
    RedemptionStatus,
    limits,
)

M = TypeVar("M", bound=Model)
MAX_BATCH = 100
REDEEM = "redeemCredits"  # the idempotency operation
REFUSAL = "the account does not have enough credits for this"
# PostgreSQL: the critical sections as one statement each (migration 0008, decision 29).
REDEEM_SQL = "SELECT * FROM credits_redeem(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
DECIDE_SQL = "SELECT * FROM credits_decide(%s, %s, %s, %s, %s)"
CODE_ROTATED, NO_ACCOUNT, DUPLICATE_KEY = "TC001", "TC002", "23505"  # SQLSTATEs
# Every list of redemptions shows the course and the learner: one join, not two lookups.


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
    await entries.write_draws(
        draws,
        account_id=account.id,
        kind=EntryKind.REDEMPTION,
        actor_id=actor_id,
        now=now,
        redemption=redemption,
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
    """A learner pays for a course with an account's code: approved at once when the
    account approves automatically (or the price is within its auto-approve limit) and the
    balance covers it, else INSUFFICIENT_CREDITS with nothing recorded; otherwise PENDING.
    """
    key = validate_key(idempotency_key)
    code_hash = codes.lookup_hash(code)
    attempt = Attempt(actor.user_id, REDEEM, key, {"code_hash": code_hash, "course_id": course_id})
    if is_postgres():
        return await _redeem_on_postgres(attempt, code_hash, course_id, address=client_address)
    stored = await stored_answer(attempt)
    if stored is not None:
        return await _redemption_in(stored)
    account = await _account_of_code(code_hash, user_id=actor.user_id, address=client_address)
    course = await _course_on_sale(course_id)
    created: list[Redemption] = []

    async def request() -> Response:
        try:
            redemption = await _record_request(
                account_id=account.id, code_hash=code_hash, course=course, learner=actor
            )
        except InsufficientCredits:
            error = InsufficientCredits(REFUSAL)
            return {"error": error.to_dict()}
        created.append(redemption)
        return {"redemption_id": redemption.id}

    response = await run_once(attempt, request, looked_up=True)
    # This call's row (its last attempt's), or the first call's if a duplicate won the key.
    if created and created[-1].id == response.get("redemption_id"):
        return created[-1]
    return await _redemption_in(response)


async def _redeem_on_postgres(
    attempt: Attempt, code_hash: str, course_id: int, *, address: str
) -> Redemption:
    """PostgreSQL: the stored answer, the account and the course read in one statement and
    checked as on SQLite; then the key's claim, the decision and every write in another
    that is its own transaction: the same rows and answers as `_record_request` in
    `run_once`, in two round trips instead of eleven."""
    found = (await fetch_rows(_looked_up_sql(), [*_look_up_values(attempt, course_id)], ()))[0]
    record = _model_in(found, IdempotencyRecord, "i__")
    if record is not None:
        return await _redemption_in(replay(attempt, record))
    user_id = attempt.user_id
    await throttle.take_code_attempt(user_id=user_id)
    account = _model_in(found, Account, "a__") if code_hash else None
    account = await _admitted(account, user_id=user_id, address=address)
    course = _on_sale(_model_in(found, Course, "c__"))
    return await _redeem_in_one_statement(attempt, account, course)


async def _redeem_in_one_statement(
    attempt: Attempt, account: Account, course: Course
) -> Redemption:
    """The key's claim, the lock, the decision and every write (`credits_redeem`)."""
    code_hash = attempt.payload["code_hash"]
    refusal = {"error": InsufficientCredits(REFUSAL).to_dict()}

    def arguments(now: datetime) -> list[object]:
        return [
            attempt.user_id, attempt.operation, attempt.key, request_hash(attempt.payload),
            account.id, code_hash, course.id, course.price_credits, now, json.dumps(refusal),
        ]  # fmt: skip

    try:  # the function decides no earlier than the account's last entry (migration 0011)
        rows = await retried(lambda: fetch_rows(REDEEM_SQL, arguments(clock.now()), ()))
    except Exception as exc:
        state = getattr(exc, "sqlstate", None)
        if state == CODE_ROTATED:  # since it was looked up
            raise InvalidCode("that redemption code is not valid", field=["code"]) from None
        if state == NO_ACCOUNT:
            raise NotFound("no such account", field=["accountId"]) from None
        # A concurrent duplicate claimed the key first: answer as it did.
        if state == DUPLICATE_KEY and (stored := await stored_answer(attempt)) is not None:
            return await _redemption_in(stored)
        raise
    if not rows:
        raise_stored_error(refusal)
    return Redemption._init_from_db(**rows[0])


async def _redemption_in(response: Response) -> Redemption:
    """The redemption an idempotent answer names; a stored business error is raised again."""
    raise_stored_error(response)
    return await Redemption.get(id=response["redemption_id"])


async def _account_of_code(code_hash: str, *, user_id: int, address: str) -> Account:
    """The account whose code this is. Each try takes one of the user's attempts; a
    right code gives it back, a wrong one is counted against the user and the address."""
    await throttle.take_code_attempt(user_id=user_id)
    account = await Account.get_or_none(code_hash=code_hash) if code_hash else None
    return await _admitted(account, user_id=user_id, address=address)


async def _admitted(account: Account | None, *, user_id: int, address: str) -> Account:
    """`account` found by the code (an attempt taken): the attempt back, or None counted
    as a wrong code."""
    if account is None:
        await throttle.record_wrong_code(user_id=user_id, address=address)
        raise InvalidCode("that redemption code is not valid", field=["code"])
    await throttle.return_code_attempt(user_id=user_id)
    return account


async def _course_on_sale(course_id: int) -> Course:
    return _on_sale(await Course.get_or_none(id=course_id))


def _on_sale(course: Course | None) -> Course:
    if course is None or not course.active:
        raise CourseUnavailable("that course cannot be bought now", field=["courseId"])
    return course


def _columns(model: type[Model], alias: str) -> str:
    return ", ".join(
        f'{alias}."{column}" AS "{alias}__{column}"'
        for column in model._meta.fields_db_projection.values()
    )


@cache
def _looked_up_sql() -> str:
    """One row: the key's stored answer, the account of the code and the course, each
    as NULLs when there is none (PostgreSQL)."""
    return (
        f"SELECT {_columns(IdempotencyRecord, 'i')}, {_columns(Account, 'a')},"
        f" {_columns(Course, 'c')} FROM (SELECT 1) AS one"
        ' LEFT JOIN "idempotency_record" i'
        "   ON i.user_id = %s AND i.operation = %s AND i.key = %s"
        ' LEFT JOIN "account" a ON a.code_hash = %s'
        ' LEFT JOIN "course" c ON c.id = %s'
    )


def _look_up_values(attempt: Attempt, course_id: int) -> tuple[object, ...]:
    code_hash = attempt.payload["code_hash"]
    return attempt.user_id, attempt.operation, attempt.key, code_hash, course_id


def _model_in(row: Row, model: type[M], prefix: str) -> M | None:
    """The `model` whose columns `row` holds under `prefix`; None if they are NULL."""
    if row[f"{prefix}id"] is None:
        return None
    return model._init_from_db(
        **{k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
    )


async def _record_request(
    *, account_id: int, code_hash: str, course: Course, learner: Actor
) -> Redemption:
    """Under the account lock: approve at once or leave pending, and record it.

    Raises InsufficientCredits, having changed nothing, when an approval at once is not
    covered: the credits are taken before the redemption is written.
    """
    account = await lock_account(account_id)
    if account.code_hash != code_hash:  # rotated since it was looked up
        raise InvalidCode("that redemption code is not valid", field=["code"])
    now = clock.now()
    approve = _approves_at_once(account, course.price_credits)
    draws = (
        await draw_from_lots(account_id=account.id, credits=course.price_credits, now=now)
        if approve
        else []
    )
    redemption = await Redemption.create(
        account=account,
        learner_id=learner.user_id,
        course=course,
        credits=course.price_credits,
        status=RedemptionStatus.APPROVED if approve else RedemptionStatus.PENDING,
        requested_at=now,
        decided_at=now if approve else None,
    )
    await record_draws(
        account=account, redemption=redemption, draws=draws, actor_id=learner.user_id, now=now
    )
    kind = OutboxKind.REDEMPTION_APPROVED if approve else OutboxKind.REDEMPTION_REQUESTED
    await outbox.enqueue(kind, redemption_id=redemption.id)
    return redemption


@dataclass
class Decisions:
    redemptions: list[Redemption] = field(default_factory=list)
    total_credits: int = 0
    errors: list[LedgerError] = field(default_factory=list)


def _check_batch(ids: list[int], reason: str | None) -> None:
    if not 1 <= len(ids) <= MAX_BATCH:
        raise InvalidInput(f"give 1 to {MAX_BATCH} redemption ids", field=["ids"])
    if reason is not None:
        clean_text(reason, "reason", max_length=limits.REASON, multiline=True)


async def _decide_one(
    *, redemption_id: int, account_id: int, actor: Actor, approve: bool, reason: str | None
) -> Redemption:
    account = await lock_account(account_id)
    redemption = await Redemption.select_for_update().get_or_none(id=redemption_id)
    if redemption is None:
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
    kind = OutboxKind.REDEMPTION_APPROVED if approve else OutboxKind.REDEMPTION_DENIED
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
    mine.sort(key=lambda r: (r.requested_at, r.id))
    if is_postgres() and mine:
        outcomes = await _decide_in_one_statement(mine, actor=actor, approve=approve, reason=reason)
    else:
        outcomes = [
            await _decided_alone(row, actor=actor, approve=approve, reason=reason) for row in mine
        ]
    for row, outcome in zip(mine, outcomes, strict=True):
        if isinstance(outcome, LedgerError):
            outcome.field = ["ids", str(position[row.id])]
            decisions.errors.append(outcome)
            continue
        decisions.redemptions.append(outcome)
        if approve:
            decisions.total_credits += outcome.credits
    return decisions


async def _decided_alone(
    row: Redemption, *, actor: Actor, approve: bool, reason: str | None
) -> Redemption | LedgerError:
    """One decision in a transaction of its own (SQLite): the row, or why not."""
    try:
        return await atomic(
            lambda: _decide_one(
                redemption_id=row.id,
                account_id=row.account_id,
                actor=actor,
                approve=approve,
                reason=reason,
            )
        )
    except LedgerError as exc:
        return exc


async def _decide_in_one_statement(
    rows: list[Redemption], *, actor: Actor, approve: bool, reason: str | None
) -> list[Redemption | LedgerError]:
    """PostgreSQL: the whole batch in one statement (one transaction), in the order of
    `rows`; each decision stands or fails alone, as `_decide_one` would have it."""
    decided_at: list[datetime] = []

    def decide(now: datetime) -> Awaitable[list[Row]]:
        decided_at.append(now)
        arguments = [[row.id for row in rows], actor.user_id, approve, reason, now]
        return fetch_rows(DECIDE_SQL, arguments, ())

    found = await at_locked_accounts((row.account_id for row in rows), decide)
    now = decided_at[-1]
    outcomes: list[Redemption | LedgerError] = []
    for row, result in zip(rows, found, strict=True):
        if result["outcome"] == "NOT_FOUND":
            outcomes.append(NotFound("no such redemption"))
        elif result["outcome"] == "NOT_PENDING":
            outcomes.append(NotPending(f"this redemption is already {result['status'].lower()}"))
        elif result["outcome"] == "INSUFFICIENT_CREDITS":
            outcomes.append(
                InsufficientCredits(
                    f"the account has {result['balance']:,} credits available;"
                    f" this needs {row.credits:,}"
                )
            )
        else:
            row.status = RedemptionStatus(result["status"])
            row.decided_at, row.decided_by_id = now, actor.user_id
            row.reason = None if approve else reason  # type: ignore[assignment]
            outcomes.append(row)
    return outcomes


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
        await outbox.enqueue(OutboxKind.REDEMPTION_CANCELLED, redemption_id=redemption.id)
        return redemption

    return await atomic(cancel)


async def redemption_rows(
    *,
    actor: Actor,
    account_id: int | None,
    status: RedemptionStatus | None,
    start: date | None = None,
    end: date | None = None,
    learner_email: str | None = None,
    page: PageRequest,
    count: bool = True,
) -> Page[Row]:
    """The account's redemptions, newest first, filtered by status, the days they were
    requested on and the learner's email, if asked; course and learner joined."""
    check_days(start, end)
    account = await access.account_for(actor, account_id)
    where = Where(["t.account_id = %s"], [account.id])
    if status is not None:
        where.add("t.status = %s", status.value)
    if learner_email is not None:
        where.add(
            'EXISTS (SELECT 1 FROM "user" u WHERE u.id = t.learner_id AND u.email = %s)',
            clean_email(learner_email, "learnerEmail"),
        )
    where.within_days("requested_at", start, end)
    return await reads.page_of(Redemption, where, page, joins=reads.REDEMPTION_JOINS, count=count)


list_redemptions = model_pages(Redemption, redemption_rows, reads.REDEMPTION_JOINS)


async def my_redemption_rows(
    *, actor: Actor, status: RedemptionStatus | None, page: PageRequest, count: bool = True
) -> Page[Row]:
    """The caller's own requests as a learner, from any account, newest first."""
    where = Where(["t.learner_id = %s"], [actor.user_id])
    if status is not None:
        where.add("t.status = %s", status.value)
    return await reads.page_of(Redemption, where, page, joins=reads.REDEMPTION_JOINS, count=count)


list_my_redemptions = model_pages(Redemption, my_redemption_rows, reads.REDEMPTION_JOINS)
