"""The root fields the compiled path answers, each by the ledger rule its resolver calls
(`resolvers/`), so the access decision, the filters and the page are the same ones."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from compiled.shapes import Env
from graph.connections import Paging
from ledger import access, balances, courses, history, redemptions
from ledger.pages import Page
from ledger.reads import Row
from resolvers.common import parse_id

Arguments = dict[str, Any]


def row_of(model: Any) -> Row:
    """An ORM object as a row: its values by column name."""
    projection = model._meta.fields_db_projection
    return {column: getattr(model, name) for name, column in projection.items()}


def _paging(arguments: Arguments) -> Any:
    return Paging(
        arguments.get("first"),
        arguments.get("after"),
        arguments.get("last"),
        arguments.get("before"),
    ).request()


def _account_id(arguments: Arguments) -> int | None:
    return parse_id(arguments.get("accountId"), "accountId", "Account")


async def viewer(env: Env, arguments: Arguments, count: bool) -> Row:
    account = await access.own_account(env.actor)
    return {
        "user": row_of(env.actor.user),
        "is_support": env.actor.is_support,
        "account": row_of(account) if account is not None else None,
    }


async def account(env: Env, arguments: Arguments, count: bool) -> Row:
    found = await access.account_for(env.actor, parse_id(arguments.get("id"), "id", "Account"))
    return row_of(found)


async def balance(env: Env, arguments: Arguments, count: bool) -> Row:
    return vars(await balances.balance(actor=env.actor, account_id=_account_id(arguments)))


async def lots(env: Env, arguments: Arguments, count: bool) -> Page[Row]:
    return await history.lot_rows(
        actor=env.actor,
        account_id=_account_id(arguments),
        status=arguments.get("status"),
        page=_paging(arguments),
        count=count,
    )


async def transactions(env: Env, arguments: Arguments, count: bool) -> Page[Row]:
    return await history.transaction_rows(
        actor=env.actor,
        account_id=_account_id(arguments),
        kind=arguments.get("kind"),
        start=arguments.get("from"),
        end=arguments.get("to"),
        page=_paging(arguments),
        count=count,
    )


async def redemption_list(env: Env, arguments: Arguments, count: bool) -> Page[Row]:
    return await redemptions.redemption_rows(
        actor=env.actor,
        account_id=_account_id(arguments),
        status=arguments.get("status"),
        start=arguments.get("from"),
        end=arguments.get("to"),
        learner_email=arguments.get("learnerEmail"),
        page=_paging(arguments),
        count=count,
    )


async def my_redemptions(env: Env, arguments: Arguments, count: bool) -> Page[Row]:
    return await redemptions.my_redemption_rows(
        actor=env.actor, status=arguments.get("status"), page=_paging(arguments), count=count
    )


async def course_list(env: Env, arguments: Arguments, count: bool) -> Page[Row]:
    return await courses.course_rows(
        actor=env.actor,
        include_inactive=bool(arguments.get("includeInactive")),
        page=_paging(arguments),
        count=count,
    )


Source = Callable[[Env, Arguments, bool], Awaitable[Any]]

# Root field → its source; connections answer pages, the others one row.
ROOTS: dict[str, Source] = {
    "viewer": viewer,
    "account": account,
    "balance": balance,
    "lots": lots,
    "transactions": transactions,
    "redemptions": redemption_list,
    "myRedemptions": my_redemptions,
    "courses": course_list,
}
