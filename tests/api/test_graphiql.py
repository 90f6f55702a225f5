"""GraphiQL works offline: its page names no other host, and each asset it loads is ours."""

from __future__ import annotations

import re

import httpx

from app import create_app
from settings import Settings
from tests.helpers import asgi_app
from tests.test_settings import STRONG


async def _get(path: str, app=None) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app or asgi_app()), base_url="http://test"
    ) as http:
        return await http.get(path, headers={"Accept": "text/html"})


async def test_the_ide_page_loads_everything_from_this_server():
    page = await _get("/graphql")
    assert page.status_code == 200 and "GraphiQL" in page.text
    assert not re.search(r"(?i)(https?:)?//[a-z0-9.-]+", page.text.replace("http://test", ""))
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {a.rsplit("/", 1)[-1] for a in assets} >= {
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql.min.css",
    }
    for asset in assets:
        assert asset.startswith("/"), asset
        response = await _get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 1000, asset


async def test_production_has_no_ide():
    settings = Settings(
        environment="production",
        database_url="postgres://credits@db:5432/credits",
        jwt_secret=STRONG,
        secret_key=STRONG[::-1],
    )
    app = create_app(settings, manage_database=False)
    assert (await _get("/graphql", app)).status_code != 200
    assert (await _get("/graphiql/graphiql.min.js", app)).status_code == 404
