"""GraphQL limits, production switches, masked errors, request ids, health and metrics."""

from __future__ import annotations

import httpx
import pytest

from app import create_app
from auth import mint_token
from ledger import accounts
from settings import Settings
from tests.api.test_query_counts import counting_sql
from tests.helpers import asgi_app, create_account


def production() -> Settings:
    return Settings(
        environment="production",
        database_url="postgres://unused/db",
        jwt_secret="V-Ts-fv6zA06u6tzG-FWPKWs-wZrWtSW88V8xv4hAbF5Qy-qaNnFpBaZdD751WRr",
        secret_key="5j2jsVoOaIJwuF2H-t6hmubj6C5D3smofd2zpJjOTj4mwcOP_N40UzF52tix3uwk",
    )


async def _post(app, query: str, token: str | None = None, **headers: str) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        return await http.post("/graphql", json={"query": query}, headers=headers)


def _token(settings: Settings | None = None) -> str:
    return mint_token(email="ann@example.com", name="Ann", settings=settings)


async def test_a_thousand_aliased_redemptions_are_refused_before_any_database_work():
    fields = " ".join(
        f'r{i}: redeemCredits(input: {{code: "X", courseId: "1", idempotencyKey: "{i}"}})'
        " { errors { code } }"
        for i in range(1000)
    )
    with counting_sql() as sql:
        response = await _post(asgi_app(), f"mutation {{ {fields} }}", _token())
    body = response.json()
    assert body["data"] is None
    assert any(
        "aliases" in e["message"].lower() or "token" in e["message"].lower() for e in body["errors"]
    )
    assert sql.statements == []


async def test_depth_is_limited_and_introspection_is_bounded():
    deep = "{ viewer { account { owners { id } } } }"
    assert "errors" not in (await _post(asgi_app(), deep, _token())).json()
    too_deep = "{ " + "a { " * 13 + "b" + " }" * 14
    body = (await _post(asgi_app(), too_deep, _token())).json()
    assert any("fields deep; the limit is 12" in e["message"] for e in body["errors"])
    # Introspection is bounded by graphql-core's rule, not the depth limit: the long
    # `ofType` chains of the standard introspection queries pass, nested lists do not.
    chain = "{ __schema { types { fields { type " + "{ ofType " * 12 + "{ name }"
    chain += " }" * 12 + " } } } }"
    assert "errors" not in (await _post(asgi_app(), chain, _token())).json()
    nested = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    body = (await _post(asgi_app(), nested, _token())).json()
    assert body["errors"][0]["message"] == "Maximum introspection depth exceeded"
    fragment = (
        "query Deep { ...A } fragment A on Query { viewer { account { owners { ...B } } } }"
        " fragment B on User { id }"
    )
    assert "errors" not in (await _post(asgi_app(), fragment, _token())).json()


async def test_too_many_tokens_are_refused():
    query = "{ viewer { " + " ".join(["isSupport"] * 2500) + " } }"
    body = (await _post(asgi_app(), query, _token())).json()
    assert "token" in body["errors"][0]["message"].lower()


async def test_production_hides_introspection_suggestions_and_graphiql():
    settings = production()
    app = create_app(settings, manage_database=False)
    token = _token(settings)
    body = (await _post(app, "{ __schema { types { name } } }", token)).json()
    assert "introspection has been disabled" in body["errors"][0]["message"]
    typo = (await _post(app, "{ balanse { available } }", token)).json()
    assert "Did you mean" not in typo["errors"][0]["message"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 404
    dev = (await _post(asgi_app(), "{ balanse { available } }", _token())).json()
    assert "Did you mean 'balance'?" in dev["errors"][0]["message"]


async def test_unexpected_errors_are_masked_with_the_request_id(ann, monkeypatch, caplog):
    await create_account(ann)

    def broken(account: object) -> str:
        raise RuntimeError("secret connection string postgres://user:pw@db")

    monkeypatch.setattr("ledger.accounts.display_code", broken)
    response = await _post(
        asgi_app(), "{ account { name redemptionCode } }", ann.token, **{"X-Request-ID": "req-42"}
    )
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "req-42"}
    assert response.headers["x-request-id"] == "req-42"
    assert "postgres://" not in response.text
    assert any("req-42" in r.getMessage() for r in caplog.records)


async def test_expected_errors_keep_their_codes(ann):
    body = (await _post(asgi_app(), "{ balance { available } }", ann.token)).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert accounts is not None


async def test_health_ready_and_metrics():
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
    ) as http:
        assert (await http.get("/healthz")).text == "ok"
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        await http.post(
            "/graphql",
            json={"query": "query Viewer { viewer { isSupport } }"},
            headers={"Authorization": f"Bearer {_token()}"},
        )
        text = (await http.get("/metrics")).text
    assert 'credits_http_requests_total{method="POST",route="/graphql",status="200"}' in text
    assert 'credits_graphql_operations_total{operation="Viewer",outcome="ok",type="query"}' in text
    assert "credits_outbox_backlog" in text


async def test_readyz_reports_a_broker_that_does_not_answer():
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {"database": "ok", "broker": "down"}


@pytest.mark.parametrize("given", ["", "has spaces", "x" * 100])
async def test_insane_request_ids_are_replaced(given):
    response = await _post(
        asgi_app(),
        "{ viewer { isSupport } }",
        _token(),
        **({"X-Request-ID": given} if given else {}),
    )
    assert len(response.headers["x-request-id"]) == 32
