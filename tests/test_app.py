"""The HTTP edge of /graphql: a body that is not a GraphQL request is a 400, shaped like
every other GraphQL error, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import asgi_app

DEEP = b"[" * 100_000 + b"]" * 100_000


async def _post(content: bytes, content_type: str = "application/json") -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app(), raise_app_exceptions=False),
        base_url="http://test",
    ) as http:
        return await http.post("/graphql", content=content, headers={"Content-Type": content_type})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b"null", "The request body must be a JSON object", id="null"),
        pytest.param(b'"{ __typename }"', "The request body must be a JSON object", id="string"),
        pytest.param(b"42", "The request body must be a JSON object", id="number"),
        pytest.param(b"true", "The request body must be a JSON object", id="boolean"),
        pytest.param(b'{"query": "\xff"}', "The request body is not UTF-8", id="not-utf-8"),
        pytest.param(
            '{"query": "{ __typename }"}'.encode("utf-16"),
            "The request body is not UTF-8",
            id="utf-16",
        ),
        pytest.param(
            b'{"query": "{ __typename }", "variables": {"a": ' + DEEP + b"}}",
            "The request body is nested too deeply",
            id="deep",
        ),
        pytest.param(b"{", "Unable to parse request body as JSON", id="broken"),
        pytest.param(b"[]", "Batching is not enabled", id="batch"),
        pytest.param(
            b'{"query": 1}',
            "The GraphQL operation's `query` must be a string or null, if provided.",
            id="query-not-a-string",
        ),
    ],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_400(body, message):
    response = await _post(body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "INVALID_INPUT"}}]
    }


async def test_an_unsupported_content_type_is_a_400():
    response = await _post(b"{ __typename }", content_type="text/plain")
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "INVALID_INPUT"}


async def test_a_good_request_still_works():
    response = await _post(b'{"query": "{ __typename }"}')
    assert response.json() == {"data": {"__typename": "Query"}}
