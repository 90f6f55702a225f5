"""Standard clients read the live schema in development; abuse and production do not.

The graphql-js document is committed as it is generated (tests/fixtures); gql, the Python
client, sends its own when it fetches the schema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from gql import Client
from gql.transport.httpx import HTTPXAsyncTransport
from graphql import get_introspection_query

from app import create_app
from settings import Settings
from tests.test_settings import STRONG

GRAPHQL_JS = (
    Path(__file__).parents[1] / "fixtures" / "graphql-js-introspection.graphql"
).read_text()


async def _post(base: str, query: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_graphql_js_introspection_reads_the_live_schema(server):
    body = await _post(server, GRAPHQL_JS)
    assert "errors" not in body, body["errors"]
    schema = body["data"]["__schema"]
    names = {t["name"] for t in schema["types"]}
    assert {"Query", "Mutation", "Account", "ErrorCode"} <= names
    assert schema["queryType"]["name"] == "Query"


async def test_the_gql_client_fetches_the_live_schema(server):
    transport = HTTPXAsyncTransport(url=f"{server}/graphql", timeout=30)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        schema = session.client.schema
    assert schema is not None and schema.query_type is not None
    assert "balance" in schema.query_type.fields


async def test_graphql_core_introspection_with_every_option(server):
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = await _post(server, query)
    assert "errors" not in body, body["errors"]


async def test_deep_or_cyclic_introspection_is_refused(server):
    deep = (
        "{ __schema { types { fields { type { fields { type { fields { type {"
        " fields { name } } } } } } } } } }"
    )
    body = await _post(server, deep)
    assert body["errors"] and body.get("data") is None
    cyclic = """
    query { __type(name: "Account") { ...F } }
    fragment F on __Type { fields { type { ...G } } }
    fragment G on __Type { fields { type { ...H } } }
    fragment H on __Type { fields { type { fields { name } } } }
    """
    body = await _post(server, cyclic)
    assert body["errors"] and body.get("data") is None


async def test_production_keeps_introspection_off():
    settings = Settings(
        environment="production",
        database_url="postgres://credits@db:5432/credits",
        jwt_secret=STRONG,
        secret_key=STRONG[::-1],
    )
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.post("/graphql", json={"query": GRAPHQL_JS})
    body = response.json()
    assert body.get("data") is None
    assert any("introspection" in e["message"].lower() for e in body["errors"]), body
