"""A GraphQL client per signed-in user, over ASGI or over real HTTP."""

from __future__ import annotations

from typing import Any

import httpx

from auth import mint_token

_app = None


def asgi_app():  # type: ignore[no-untyped-def]
    global _app
    if _app is None:
        from app import create_app

        _app = create_app(manage_database=False)
    return _app


class GraphQLClient:
    def __init__(self, token: str | None, base_url: str | None = None) -> None:
        self.token = token
        self.base_url = base_url

    def _client(self) -> httpx.AsyncClient:
        if self.base_url:
            return httpx.AsyncClient(base_url=self.base_url, timeout=60)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
        )

    async def post(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self._client() as http:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The `data` of a query that must succeed."""
        body = await self.post(query, variables)
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])

    async def error_code(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """The code of the first top-level error of a query that must fail."""
        body = await self.post(query, variables)
        assert body.get("errors"), body
        return str(body["errors"][0]["extensions"]["code"])

    async def mutate(
        self, name: str, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The payload of mutation `name`."""
        return dict((await self.data(query, variables))[name])


def make_client(
    *, email: str, name: str, support: bool = False, base_url: str | None = None
) -> GraphQLClient:
    return GraphQLClient(mint_token(email=email, name=name, support=support), base_url)


CREATE_ACCOUNT = """
mutation($input: CreateAccountInput!) {
  createAccount(input: $input) {
    account { id name approvalMode autoApproveLimit redemptionCode owners { email name } }
    errors { code message field }
  }
}"""

PURCHASE = """
mutation($input: PurchaseCreditsInput!) {
  purchaseCredits(input: $input) {
    purchase { id credits unitPriceCents discountPercent amountCents status
               lot { id credits remaining purchasedAt expiresAt status } }
    errors { code message field }
  }
}"""

BALANCE = "{ balance { available pending expiringWithin90Days nextExpiry } }"


async def create_account(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload = await client.mutate("createAccount", CREATE_ACCOUNT, {"input": fields})
    assert payload["errors"] == [], payload["errors"]
    return dict(payload["account"])


async def buy(
    client: GraphQLClient, credits: int, key: str, token: str = "tok_visa", **extra: Any
) -> dict[str, Any]:
    payload = await client.mutate(
        "purchaseCredits",
        PURCHASE,
        {"input": {"credits": credits, "paymentToken": token, "idempotencyKey": key, **extra}},
    )
    return payload


REDEEM = """
mutation($input: RedeemCreditsInput!) {
  redeemCredits(input: $input) {
    redemption { id status credits course { sku title } learner { email }
                 draws { credits lot { id } } }
    errors { code message field }
  }
}"""

UPSERT_COURSE = """
mutation($input: UpsertCourseInput!) {
  upsertCourse(input: $input) { course { id sku title priceCredits active } errors { code field } }
}"""


async def redeem(client: GraphQLClient, code: str, course_id: str, key: str) -> dict[str, Any]:
    return await client.mutate(
        "redeemCredits",
        REDEEM,
        {"input": {"code": code, "courseId": course_id, "idempotencyKey": key}},
    )


async def upsert_course(
    client: GraphQLClient, sku: str, title: str, price: int, **extra: Any
) -> dict[str, Any]:
    payload = await client.mutate(
        "upsertCourse",
        UPSERT_COURSE,
        {"input": {"sku": sku, "title": title, "priceCredits": price, **extra}},
    )
    assert payload["errors"] == [], payload["errors"]
    return dict(payload["course"])


def pk(global_id: object) -> int:
    """The row id inside a global id the API answered (tests look rows up with it)."""
    from graph.ids import split_global_id

    parts = split_global_id(global_id)
    assert parts is not None, global_id
    return int(parts[1])


def gid(type_name: str, row_id: int) -> str:
    """The global id the API gives row `row_id` of `type_name`."""
    from graph.ids import to_global_id

    return to_global_id(type_name, row_id)
