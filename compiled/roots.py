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
from resolvers.common import decoded_ids, parse_id

Arguments = dict[str, Any]
Source = Callable[[Env, Arguments, bool], Awaitable[Any]]


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


def listing(rule: Callable[..., Awaitable[Page[Row]]], **names: str) -> Source:
    """A connection root answered by the list rule its resolver calls: the caller, the
    page, whether to count, and `names` (the rule's keyword → the field's argument),
    ids decoded as the resolvers decode them."""

    async def source(env: Env, arguments: Arguments, count: bool) -> Page[Row]:
        given = decoded_ids({keyword: arguments.get(name) for keyword, name in names.items()})
        return await rule(actor=env.actor, page=_paging(arguments), count=count, **given)

    return source


# Root field → its source; connections answer pages, the others one row.
ROOTS: dict[str, Source] = {
    "viewer": viewer,
    "account": account,
    "balance": balance,
    "lots": listing(history.lot_rows, account_id="accountId", status="status"),
    "transactions": listing(
        history.transaction_rows, account_id="accountId", kind="kind", start="from", end="to"
    ),
    "redemptions": listing(
        redemptions.redemption_rows,
        account_id="accountId",
        status="status",
        start="from",
        end="to",
        learner_email="learnerEmail",
    ),
    "myRedemptions": listing(redemptions.my_redemption_rows, status="status"),
    "courses": listing(courses.course_rows, include_inactive="includeInactive"),
}
