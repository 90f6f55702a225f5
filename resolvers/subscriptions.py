"""Subscriptions: each waits for this process's live events (live.feed) and shows what
an event names, read again under the access rules of that moment.

A subscription ends with an error (a `next` message carrying `errors`, then `complete`)
when its subscriber may no longer see the account (NOT_FOUND: an owner removed) or its
token has expired (UNAUTHENTICATED); it completes without one when the subscriber fell
too far behind. The client then re-reads and subscribes again (decision 30).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable

from graph.arguments import AccountId
from graph.context import Info
from graph.types import Balance, Redemption
from ledger import live
from ledger.live import LiveEvent
from live.feed import HUB, Listener, Overflow
from resolvers.common import Unauthenticated, actor_of, parse_id, run_query

log = logging.getLogger("credits.live")


async def redemption_requested(
    info: Info, account_id: AccountId = None
) -> AsyncGenerator[Redemption, None]:
    async for event in _account_events(info, account_id, live.REQUESTED):
        yield await _redemption(info, event)


async def redemption_decided(
    info: Info, account_id: AccountId = None
) -> AsyncGenerator[Redemption, None]:
    async for event in _account_events(info, account_id, live.DECIDED):
        yield await _redemption(info, event)


async def balance_changed(
    info: Info, account_id: AccountId = None
) -> AsyncGenerator[Balance, None]:
    async for event in _account_events(info, account_id, live.BALANCE, coalesce=True):
        yield await _balance(info, event.account_id)


async def my_redemption_decided(info: Info) -> AsyncGenerator[Redemption, None]:
    actor = await actor_of(info)

    def wants(event: LiveEvent) -> bool:
        return event.kind in live.DECIDED and event.learner_id == actor.user_id

    async for event in _events(info, wants):
        yield await _own_redemption(info, _id(event))


async def _account_events(
    info: Info, account_id: AccountId, kinds: frozenset[str], *, coalesce: bool = False
) -> AsyncGenerator[LiveEvent, None]:
    """The events of `kinds` on the account the caller may watch (checked first)."""
    wanted = parse_id(account_id, "accountId", "Account")
    account = await run_query(
        info, lambda actor: live.watch_account(actor=actor, account_id=wanted)
    )

    def wants(event: LiveEvent) -> bool:
        return event.account_id == account.id and event.kind in kinds

    async for event in _events(info, wants, coalesce=coalesce):
        yield event


async def _events(
    info: Info, wants: Callable[[LiveEvent], bool], *, coalesce: bool = False
) -> AsyncGenerator[LiveEvent, None]:
    """Events as they come; with `coalesce`, a burst already waiting counts as one."""
    listener: Listener
    async with HUB.listen(wants) as listener:
        while True:
            try:
                event = await listener.next()
            except Overflow:
                log.warning("live events: a subscriber fell behind; its subscription ends")
                return
            if coalesce:
                event = ([event, *listener.drain()])[-1]
            await _still_signed_in(info)
            info.context.forget_reads()
            yield event


async def _still_signed_in(info: Info) -> None:
    check = info.context.signed_in_still
    reason = await check() if check is not None else None
    if reason is not None:
        raise Unauthenticated(reason)


async def _redemption(info: Info, event: LiveEvent) -> Redemption:
    row = await run_query(
        info,
        lambda actor: live.account_redemption(
            actor=actor, account_id=event.account_id, redemption_id=_id(event)
        ),
    )
    return Redemption.from_model(row)


async def _balance(info: Info, account_id: int) -> Balance:
    value = await run_query(
        info, lambda actor: live.account_balance(actor=actor, account_id=account_id)
    )
    return Balance.from_model(value)


async def _own_redemption(info: Info, redemption_id: int) -> Redemption:
    row = await run_query(
        info, lambda actor: live.own_redemption(actor=actor, redemption_id=redemption_id)
    )
    return Redemption.from_model(row)


def _id(event: LiveEvent) -> int:
    if event.redemption_id is None:
        raise RuntimeError(f"a {event.kind} event names no redemption")
    return event.redemption_id
