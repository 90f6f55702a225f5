"""The one writer of ledger entries: every change of credits is written here, and only here
(but a redemption's, on PostgreSQL: `credits_draw` in migration 0008 writes the columns
`write_draws` writes; decision 29).

An entry is immutable: nothing updates or deletes one. The database checks that its sign
matches its kind (migration 0002); the caller holds the account lock and passes the
balance the entry leaves, and the time of the change from the application's clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise import connections

from ledger.db import is_postgres
from ledger.draws import LotDraw
from ledger.sql import fetch
from models import EntryKind, LedgerEntry, Lot, Purchase, Redemption


async def write_entry(
    *,
    account_id: int,
    lot: Lot,
    kind: EntryKind,
    credits: int,
    balance_after: int,
    actor_id: int | None,
    now: datetime,
    redemption: Redemption | None = None,
    purchase: Purchase | None = None,
    reason: str | None = None,
    reference: str | None = None,
    expires_at: datetime | None = None,
) -> LedgerEntry:
    """One entry on `lot`: `credits` signed, `balance_after` the account's balance then."""
    return await LedgerEntry.create(
        account_id=account_id,
        lot=lot,
        kind=kind,
        credits=credits,
        balance_after=balance_after,
        actor_id=actor_id,
        redemption=redemption,
        purchase=purchase,
        reason=reason,
        reference=reference,
        expires_at=expires_at,
        created_at=now,
    )


async def write_draws(
    draws: Sequence[LotDraw],
    *,
    account_id: int,
    kind: EntryKind,
    actor_id: int | None,
    now: datetime,
    redemption: Redemption | None = None,
    reason: str | None = None,
) -> None:
    """A debit entry for each lot credits were taken from (a redemption or an adjustment)."""
    for draw in draws:
        await write_entry(
            account_id=account_id,
            lot=draw.lot,
            kind=kind,
            credits=-draw.credits,
            balance_after=draw.balance_after,
            actor_id=actor_id,
            now=now,
            redemption=redemption,
            reason=reason,
        )


# The nightly expiry writes thousands of entries at once, so it inserts them in bulk
# rather than through `write_entry`: one statement per batch instead of one per lot,
# answering the new ids for the `credits_expired` messages.
_INSERT_EXPIRIES_PG = """
    INSERT INTO ledger_entry (account_id, lot_id, kind, credits, balance_after, reason,
                              created_at)
    SELECT a, l, 'EXPIRY', c, b, 'expired', $5
    FROM unnest($1::int[], $2::int[], $3::int[], $4::int[]) AS u(a, l, c, b)
    RETURNING id, account_id
"""
_INSERT_CHUNK = 500  # rows per INSERT on SQLite, well under its 32,766 parameters


async def write_expiries(
    rows: Sequence[tuple[int, int, int, int]], now: datetime
) -> list[tuple[int, int]]:
    """An EXPIRY entry for each (account id, lot id, credits, balance after); answers
    the (entry id, account id) of each."""
    if not rows:
        return []
    if is_postgres():
        found = await connections.get("default").execute_query_dict(
            _INSERT_EXPIRIES_PG, [*map(list, zip(*rows, strict=True)), now]
        )
        return [(int(r["id"]), int(r["account_id"])) for r in found]
    written: list[tuple[int, int]] = []
    for start in range(0, len(rows), _INSERT_CHUNK):
        chunk = rows[start : start + _INSERT_CHUNK]
        found = await fetch(
            "INSERT INTO ledger_entry (account_id, lot_id, kind, credits, balance_after,"
            " reason, created_at) VALUES "
            + ", ".join("(%s, %s, 'EXPIRY', %s, %s, 'expired', %s)" for _ in chunk)
            + " RETURNING id, account_id",
            *(value for row in chunk for value in (*row, now)),
        )
        written += [(int(r["id"]), int(r["account_id"])) for r in found]
    return written
