"""Automatic persisted queries: the hash of a document the server has seen stands for
its text, on either executor; an unknown or wrong hash is answered, never guessed."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from prometheus_client import REGISTRY

from tests.helpers import GraphQLClient, asgi_app, create_account

BALANCE = "query Mine { balance { available pending } }"
RENAME = (
    "mutation Rename($name: String!) { updateAccount(input: {name: $name}) { account { name } } }"
)


def persisted(query: str) -> dict[str, Any]:
    digest = hashlib.sha256(query.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def post(client: GraphQLClient, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app()), base_url="http://test"
    ) as http:
        return await http.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {client.token}"}
        )


def compiled_answers() -> float:
    found = REGISTRY.get_sample_value("credits_graphql_executions_total", {"executor": "compiled"})
    return found or 0.0


async def test_a_hash_alone_is_answered_once_its_document_was_sent(ann):
    await create_account(ann)
    unknown = await post(ann, {"extensions": persisted(BALANCE)})
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    full = await post(ann, {"query": BALANCE, "extensions": persisted(BALANCE)})
    before = compiled_answers()
    by_hash = await post(ann, {"extensions": persisted(BALANCE)})
    assert by_hash.json() == full.json() == {"data": {"balance": {"available": 0, "pending": 0}}}
    assert compiled_answers() == before + 1  # the compiled path answered the stored text


async def test_a_mutation_by_hash_runs_on_the_reference_executor(ann):
    await create_account(ann)
    first = {"query": RENAME, "variables": {"name": "One"}, "extensions": persisted(RENAME)}
    assert (await post(ann, first)).json()["data"]["updateAccount"]["account"]["name"] == "One"
    again = {"variables": {"name": "Two"}, "extensions": persisted(RENAME)}
    assert (await post(ann, again)).json()["data"]["updateAccount"]["account"]["name"] == "Two"


async def test_a_hash_that_is_not_the_documents_is_refused(ann):
    wrong = {"query": BALANCE, "extensions": persisted("{ viewer { isSupport } }")}
    response = await post(ann, wrong)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    # and the wrong pair was not remembered
    alone = await post(ann, {"extensions": persisted("{ viewer { isSupport } }")})
    assert alone.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_unknown_protocol_version_is_refused(ann):
    body = {"query": BALANCE, "extensions": {"persistedQuery": {"version": 2, "sha256Hash": "x"}}}
    response = await post(ann, body)
    assert response.status_code == 400
    assert "version" in response.json()["errors"][0]["message"]
