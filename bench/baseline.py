"""The baseline: bare Starlette + asyncpg sending the service's own SQL for each scenario.

    python -m uvicorn bench.baseline:create_app --factory --workers 1 --no-access-log

The fastest this stack could answer the same requests: the same token check (PyJWT,
HS256) and the same statements (`bench.baseline_sql`) on one pooled connection per
request, JSON shaped like the service's GraphQL answers; no GraphQL, no ORM, no
middleware, no access log. Reads DATABASE_URL, DB_POOL_SIZE, JWT_SECRET and SECRET_KEY
like the service. Endpoints (POST, JSON body): /balance, /lots, /redemptions, /redeem, and
/redeem-old: the statements the service sent for a redemption before issue 14.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import asyncpg
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench import baseline_sql as sql
from bench.pg import asyncpg_dsn
from ledger.codes import hash_code, normalise_code
from settings import StatelessConnection

EXPIRING_WINDOW = timedelta(days=90)
RETRYABLE = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)
Json = dict[str, Any]
T = TypeVar("T")


class Db(Protocol):
    """What the handlers use of an asyncpg connection (bench.sqlcount wraps one)."""

    async def fetch(self, query: str, *args: Any) -> list[Any]: ...
    async def fetchrow(self, query: str, *args: Any) -> Any: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...
    async def execute(self, query: str, *args: Any) -> str: ...
    def transaction(self) -> Any: ...


Handler = Callable[[Db, Json, Json], Awaitable[Json]]


class Unauthenticated(Exception):
    pass


def _subject(request: Request) -> str:
    """The verified token's `sub`, checked as the service checks it (HS256, exp, sub)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("sign in")
    try:
        claims: Json = jwt.decode(
            token,
            os.environ["JWT_SECRET"],
            algorithms=["HS256"],
            leeway=30,
            options={"require": ["exp", "sub"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthenticated(str(exc)) from exc
    return str(claims["sub"])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"k:{row_id}".encode()).decode()


async def _own_account_id(conn: Db, user: Json) -> int:
    row = await conn.fetchrow(sql.OWN_ACCOUNT, user["id"])
    if row is None:
        raise LookupError("you do not own a training credits account")
    return int(row["id"])


async def balance(conn: Db, user: Json, body: Json) -> Json:
    account_id = await _own_account_id(conn, user)
    now = datetime.now(UTC)
    row = await conn.fetchrow(sql.BALANCE, now + EXPIRING_WINDOW, account_id, account_id, now)
    return {
        "balance": {
            "available": int(row["available"]),
            "pending": int(row["pending"]),
            "expiringWithin90Days": int(row["soon"]),
            "nextExpiry": _iso(row["soonest"]),
        }
    }


def _lot_status(row: asyncpg.Record, now: datetime) -> str:
    if row["expires_at"] <= now:
        return "EXPIRED"
    return "DEPLETED" if row["remaining"] == 0 else "ACTIVE"


def _connection(rows: list[Any], size: int, total: int, node: Callable[[Any], Json]) -> Json:
    edges = [{"cursor": _cursor(row["id"]), "node": node(row)} for row in rows[:size]]
    end = edges[-1]["cursor"] if edges else None
    return {
        "totalCount": total,
        "pageInfo": {"hasNextPage": len(rows) > size, "endCursor": end},
        "edges": edges,
    }


async def lots(conn: Db, user: Json, body: Json) -> Json:
    account_id = await _own_account_id(conn, user)
    size = int(body.get("first", 20))
    rows = await conn.fetch(sql.LOT_PAGE, account_id, account_id, size + 1)
    total = rows[0]["__total"] if rows else 0
    now = datetime.now(UTC)

    def node(row: asyncpg.Record) -> Json:
        return {
            "id": str(row["id"]),
            "credits": row["credits"],
            "remaining": row["remaining"],
            "purchasedAt": _iso(row["purchased_at"]),
            "expiresAt": _iso(row["expires_at"]),
            "status": _lot_status(row, now),
        }

    return {"lots": _connection(rows, size, total, node)}


async def redemptions(conn: Db, user: Json, body: Json) -> Json:
    account_id = await _own_account_id(conn, user)
    size = int(body.get("first", 20))
    rows = await conn.fetch(sql.REDEMPTION_PAGE_JOINED, account_id, account_id, size + 1)
    total = rows[0]["__total"] if rows else 0

    def node(row: asyncpg.Record) -> Json:
        return {
            "id": str(row["id"]),
            "status": row["status"],
            "credits": row["credits"],
            "requestedAt": _iso(row["requested_at"]),
            "decidedAt": _iso(row["decided_at"]),
            "course": {
                "id": str(row["course__id"]),
                "sku": row["course__sku"],
                "title": row["course__title"],
            },
            "learner": {
                "id": str(row["learner__id"]),
                "email": row["learner__email"],
                "name": row["learner__name"],
            },
        }

    return {"redemptions": _connection(rows, size, total, node)}


async def _take_credits(
    conn: Db, account_id: int, credits: int, now: datetime
) -> list[tuple[int, int, int]]:
    """(lot id, credits taken, balance after) in draw order, like ledger.draws."""
    lots_ = await conn.fetch(sql.LOCK_LOTS, account_id, now, 0)
    balance_ = sum(lot["remaining"] for lot in lots_)
    takes, needed = [], credits
    for lot in lots_:
        take = min(lot["remaining"], needed)
        if await conn.execute(sql.TAKE_FROM_LOT, take, lot["id"], take, now) != "UPDATE 1":
            raise RuntimeError(f"lot {lot['id']} changed while the account was locked")
        balance_ -= take
        needed -= take
        takes.append((lot["id"], take, balance_))
        if needed == 0:
            break
    return takes


async def _approve(conn: Db, account_id: int, user_id: int, credits: int, course_id: int) -> Json:
    now = datetime.now(UTC)
    takes = await _take_credits(conn, account_id, credits, now)
    if sum(take for _, take, _ in takes) < credits:
        raise InsufficientCredits
    redemption_id = await conn.fetchval(
        sql.INSERT_REDEMPTION, credits, "APPROVED", now, now, None, account_id, course_id, None,
        user_id,
    )  # fmt: skip
    for lot_id, take, after in takes:
        await conn.fetchval(sql.INSERT_DRAW, take, lot_id, redemption_id)
        await conn.fetchval(
            sql.INSERT_ENTRY, "REDEMPTION", -take, after, None, None, None, now, account_id,
            user_id, lot_id, None, redemption_id,
        )  # fmt: skip
    payload = json.dumps({"redemption_id": redemption_id}, separators=(",", ":"))
    await conn.fetchval(
        sql.INSERT_OUTBOX, "redemption_approved", payload, datetime.now(UTC), None, None, 0,
        None, None, None, None,
    )  # fmt: skip
    return {"redemption_id": redemption_id, "status": "APPROVED", "credits": credits}


class InsufficientCredits(Exception):
    """The lots do not cover the price: the transaction rolls back, nothing is taken."""


async def _redeem_once(
    conn: Db, user_id: int, key: str, digest: str, account: Any, course: Any
) -> Json:
    try:
        async with conn.transaction():
            record_id = await conn.fetchval(
                sql.INSERT_IDEMPOTENCY, "redeemCredits", key, digest, "{}", datetime.now(UTC),
                user_id,
            )  # fmt: skip
            locked = await conn.fetchrow(sql.LOCK_ACCOUNT, account["id"], 2)
            if locked is None or locked["code_hash"] != account["code_hash"]:
                raise LookupError("that redemption code is not valid")
            response = await _approve(
                conn, account["id"], user_id, course["price_credits"], course["id"]
            )
            stored = {"redemption_id": response["redemption_id"]}
            await conn.execute(
                sql.STORE_RESPONSE, json.dumps(stored, separators=(",", ":")), record_id
            )
    except InsufficientCredits:
        # The service stores this answer with the key; the benchmark never runs dry.
        return {"error": {"code": "INSUFFICIENT_CREDITS", "message": "not enough credits"}}
    return response


def _request_hash(code_hash: str, course_id: int) -> str:
    payload = {"code_hash": code_hash, "course_id": course_id}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    """Retry serialization failures and deadlocks, like ledger.db.atomic (none expected)."""
    for tries in range(1, 7):
        try:
            return await attempt()
        except RETRYABLE:
            if tries == 6:
                raise
    raise AssertionError("unreachable")


async def _stored(conn: Db, user_id: int, key: str) -> Json | None:
    row = await conn.fetchrow(sql.IDEMPOTENCY_BY_KEY, user_id, "redeemCredits", key, 2)
    return json.loads(row["response"]) if row else None


async def _redeem(conn: Db, user_id: int, key: str, code_hash: str, course_id: int) -> Json:
    """The answer for this key: stored, else made now (the service's order of statements:
    the stored answer, the account, the course, the stored answer again, the transaction)."""
    stored = await _stored(conn, user_id, key)
    if stored is not None:
        return stored
    account = await conn.fetchrow(sql.ACCOUNT_BY_CODE, code_hash, 2)
    course = await conn.fetchrow(sql.COURSE_BY_ID, course_id, 2)
    if account is None or course is None or account["approval_mode"] != "AUTOMATIC":
        raise LookupError("this baseline redeems valid codes of AUTOMATIC accounts only")
    digest = _request_hash(code_hash, course_id)
    return await _retrying(lambda: _redeem_once(conn, user_id, key, digest, account, course))


def _redeem_arguments(body: Json) -> tuple[str, str, int]:
    code = normalise_code(str(body["code"]))
    return str(body["idempotencyKey"]), hash_code(code or ""), int(body["courseId"])


async def _answered(conn: Db, response: Json) -> Json:
    if "error" in response:
        return {"redeemCredits": {"redemption": None, "errors": [response["error"]]}}
    if "status" in response:  # made now: answered from what was written
        node = {"id": str(response["redemption_id"]), "status": response["status"],
                "credits": response["credits"]}  # fmt: skip
    else:  # a replayed key: the stored answer names the row
        row = await conn.fetchrow(sql.REDEMPTION_BY_ID, response["redemption_id"], 2)
        node = {"id": str(row["id"]), "status": row["status"], "credits": row["credits"]}
    return {"redeemCredits": {"redemption": node, "errors": []}}


async def redeem_old(conn: Db, user: Json, body: Json) -> Json:
    """The statements the service sent before issue 14 (eleven; nine under the lock)."""
    key, code_hash, course_id = _redeem_arguments(body)
    return await _answered(conn, await _redeem(conn, user["id"], key, code_hash, course_id))


REFUSAL_MESSAGE = "the account does not have enough credits for this"
REFUSAL = json.dumps(
    {"error": {"code": "INSUFFICIENT_CREDITS", "message": REFUSAL_MESSAGE, "field": None}}
)


async def redeem(conn: Db, user: Json, body: Json) -> Json:
    """The service's statements now: one look-up (stored answer, account, course), then
    `credits_redeem`, one statement that is its own transaction."""
    key, code_hash, course_id = _redeem_arguments(body)
    found = await conn.fetchrow(sql.REDEEM_LOOK_UP, user["id"], "redeemCredits", key, code_hash,
                                course_id)  # fmt: skip
    if found["i__id"] is not None:
        return await _answered(conn, json.loads(found["i__response"]))
    if found["a__id"] is None or found["c__id"] is None or not found["c__active"]:
        raise LookupError("this baseline redeems valid codes of courses on sale only")
    digest = _request_hash(code_hash, course_id)
    arguments = (
        user["id"], "redeemCredits", key, digest, found["a__id"], code_hash, course_id,
        found["c__price_credits"], datetime.now(UTC), REFUSAL,
    )  # fmt: skip
    rows = await _retrying(lambda: conn.fetch(sql.REDEEM_CALL, *arguments))
    if not rows:
        return await _answered(conn, json.loads(REFUSAL))
    row = rows[0]
    return await _answered(
        conn, {"redemption_id": row["id"], "status": row["status"], "credits": row["credits"]}
    )


HANDLERS: dict[str, Handler] = {
    "balance": balance, "lots": lots, "redemptions": redemptions, "redeem": redeem,
    "redeem-old": redeem_old,
}  # fmt: skip


async def answer(conn: Db, sub: str, name: str, body: bytes) -> Json:
    """The JSON answer of endpoint `name` to the user `sub`, like the service's."""
    user = await conn.fetchrow(sql.USER_BY_SUB, sub)
    if user is None:
        return {"errors": [{"message": "unknown user"}]}
    try:
        return {"data": await HANDLERS[name](conn, dict(user), json.loads(body))}
    except LookupError as exc:
        return {"errors": [{"message": str(exc)}]}


def endpoint(name: str) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        try:
            sub = _subject(request)
        except Unauthenticated as exc:
            return JSONResponse({"errors": [{"message": str(exc)}]})
        body = await request.body()
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as conn:
            return JSONResponse(await answer(conn, sub, name, body))

    return serve


async def healthz(request: Request) -> Response:
    return JSONResponse({"database": "ok"})


def create_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            asyncpg_dsn(os.environ["DATABASE_URL"]),
            min_size=1,
            max_size=int(os.environ.get("DB_POOL_SIZE", "20")),
            connection_class=StatelessConnection,  # no reset query, like the service's pool
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    routes = [Route(f"/{name}", endpoint(name), methods=["POST"]) for name in HANDLERS]
    return Starlette(routes=[*routes, Route("/readyz", healthz)], lifespan=lifespan)
