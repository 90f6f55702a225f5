"""Live events: what a committed outbox row means to the people watching an account.

The outbox relay turns the rows it hands over into `LiveEvent`s (`events_from_outbox`)
and publishes them (`live/`); a subscription reads the row the event names again, after
checking that its subscriber may still see it (decision 30). An event carries ids only:
what a subscriber is shown is read when it is delivered, under the access rules of that
moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ledger import access, balances
from ledger.actors import Actor
from ledger.balances import Balance
from ledger.errors import NotFound
from ledger.events import OutboxKind
from models import Account, OutboxMessage, Redemption

# Which kinds each subscription watches.
REQUESTED = frozenset({OutboxKind.REDEMPTION_REQUESTED})
DECIDED = frozenset(
    {
        OutboxKind.REDEMPTION_APPROVED,
        OutboxKind.REDEMPTION_DENIED,
        OutboxKind.REDEMPTION_CANCELLED,
        OutboxKind.REDEMPTION_REVERSED,
    }
)
BALANCE = frozenset({*REQUESTED, *DECIDED, OutboxKind.PURCHASE_PAID, OutboxKind.CREDITS_EXPIRED})
_BY_REDEMPTION = REQUESTED | DECIDED
_BY_ACCOUNT = frozenset({OutboxKind.PURCHASE_PAID, OutboxKind.CREDITS_EXPIRED})


@dataclass(frozen=True)
class LiveEvent:
    """One committed change, as it travels between processes (JSON)."""

    id: int  # the outbox row's: stable, for logs and a client's de-duplication
    kind: str
    account_id: int
    redemption_id: int | None = None
    learner_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> LiveEvent:
        def optional(name: str) -> int | None:
            value = data.get(name)
            return None if value is None else int(value)

        return LiveEvent(
            id=int(data["id"]),
            kind=str(data["kind"]),
            account_id=int(data["account_id"]),
            redemption_id=optional("redemption_id"),
            learner_id=optional("learner_id"),
        )


async def events_from_outbox(rows: Iterable[OutboxMessage]) -> list[LiveEvent]:
    """The live events of committed outbox rows, in their order; kinds nobody watches
    (owner added, code rotated, quotes, reminders, extensions) are left out. One query
    for the redemptions the rows name."""
    rows = [row for row in rows if row.kind in BALANCE]
    wanted = [int(row.payload["redemption_id"]) for row in rows if row.kind in _BY_REDEMPTION]
    found = {
        r["id"]: r
        for r in await Redemption.filter(id__in=wanted).values("id", "account_id", "learner_id")
    }
    events = []
    for row in rows:
        if row.kind in _BY_ACCOUNT:
            events.append(
                LiveEvent(id=row.id, kind=row.kind, account_id=int(row.payload["account_id"]))
            )
            continue
        redemption = found.get(int(row.payload["redemption_id"]))
        if redemption is not None:
            events.append(
                LiveEvent(
                    id=row.id,
                    kind=row.kind,
                    account_id=redemption["account_id"],
                    redemption_id=redemption["id"],
                    learner_id=redemption["learner_id"],
                )
            )
    return events


async def watch_account(*, actor: Actor, account_id: int | None) -> Account:
    """The account a subscription follows: the rules of `access.watched_account`."""
    return await access.watched_account(actor, account_id)


async def account_redemption(*, actor: Actor, account_id: int, redemption_id: int) -> Redemption:
    """The redemption an event names, for a watcher of its account who may still watch
    it; NOT_FOUND once they may not (an owner removed since they subscribed)."""
    await _still_watching(actor, account_id)
    row = await Redemption.get_or_none(id=redemption_id, account_id=account_id)
    if row is None:
        raise NotFound("no such redemption")
    return row


async def account_balance(*, actor: Actor, account_id: int) -> Balance:
    """The balance now, for a watcher of the account who may still watch it."""
    await _still_watching(actor, account_id)
    return await balances.balance_of(account_id)


async def own_redemption(*, actor: Actor, redemption_id: int) -> Redemption:
    """A redemption the caller requested as a learner."""
    return await access.redemption_for_learner(actor, redemption_id)


async def _still_watching(actor: Actor, account_id: int) -> None:
    if not await access.may_watch(actor, account_id):
        raise NotFound("no such account: you no longer own it", field=["accountId"])
