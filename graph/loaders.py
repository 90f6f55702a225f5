"""Per-request DataLoaders, named `<things>_by_<key>`: one query per kind per request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cached_property
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from ledger.balances import Balance, balance_of
from models import Account, Course, Draw, Lot, Ownership, Purchase, Redemption, User

M = TypeVar("M", bound=Model)


async def _by_id(model: type[M], ids: Iterable[int]) -> dict[int, M]:
    return {int(row.pk): row for row in await model.filter(id__in=list(set(ids)))}


def _loader(model: type[M]) -> DataLoader[int, M | None]:
    async def load(ids: list[int]) -> list[M | None]:
        rows = await _by_id(model, ids)
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=load)


async def _owners(account_ids: list[int]) -> list[list[User]]:
    grouped: dict[int, list[User]] = defaultdict(list)
    for ownership in (
        await Ownership.filter(account_id__in=account_ids).select_related("user").order_by("id")
    ):
        grouped[ownership.account_id].append(ownership.user)
    return [grouped[i] for i in account_ids]


async def _draws(redemption_ids: list[int]) -> list[list[Draw]]:
    grouped: dict[int, list[Draw]] = defaultdict(list)
    for draw in await Draw.filter(redemption_id__in=redemption_ids).order_by("id"):
        grouped[draw.redemption_id].append(draw)
    return [grouped[i] for i in redemption_ids]


async def _lots_by_purchase(purchase_ids: list[int]) -> list[Lot | None]:
    rows = {lot.purchase_id: lot for lot in await Lot.filter(purchase_id__in=purchase_ids)}
    return [rows.get(i) for i in purchase_ids]


async def _owned_accounts(user_ids: list[int]) -> list[int | None]:
    rows = {o.user_id: o.account_id for o in await Ownership.filter(user_id__in=user_ids)}
    return [rows.get(i) for i in user_ids]


async def _balances(account_ids: list[int]) -> list[Balance]:
    return [await balance_of(i) for i in account_ids]


class Loaders:
    """Each made when a resolver first asks for it (most requests need none)."""

    users_by_id = cached_property(lambda self: _loader(User))
    accounts_by_id = cached_property(lambda self: _loader(Account))
    lots_by_id = cached_property(lambda self: _loader(Lot))
    purchases_by_id = cached_property(lambda self: _loader(Purchase))
    courses_by_id = cached_property(lambda self: _loader(Course))
    redemptions_by_id = cached_property(lambda self: _loader(Redemption))
    owners_by_account = cached_property(lambda self: DataLoader(load_fn=_owners))
    draws_by_redemption = cached_property(lambda self: DataLoader(load_fn=_draws))
    lots_by_purchase = cached_property(lambda self: DataLoader(load_fn=_lots_by_purchase))
    balances_by_account = cached_property(lambda self: DataLoader(load_fn=_balances))
    owned_account_by_user = cached_property(lambda self: DataLoader(load_fn=_owned_accounts))
