"""Per-request DataLoaders, named `<things>_by_<key>`: one query per kind per request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
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
    def __init__(self) -> None:
        self.users_by_id = _loader(User)
        self.accounts_by_id = _loader(Account)
        self.lots_by_id = _loader(Lot)
        self.purchases_by_id = _loader(Purchase)
        self.courses_by_id = _loader(Course)
        self.redemptions_by_id = _loader(Redemption)
        self.owners_by_account = DataLoader(load_fn=_owners)
        self.draws_by_redemption = DataLoader(load_fn=_draws)
        self.lots_by_purchase = DataLoader(load_fn=_lots_by_purchase)
        self.balances_by_account = DataLoader(load_fn=_balances)
        self.owned_account_by_user = DataLoader(load_fn=_owned_accounts)
