"""What a real server writes to its log: no secrets from query strings, and one line,
not a traceback, when a client goes away."""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urlparse

import httpx

from tests.helpers import buy, create_account
from tests.live import LoggedServer


def _connect(server: LoggedServer) -> socket.socket:
    url = urlparse(server.base)
    return socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=5)


def _faults(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e.get("level") == "error" or "exception" in e]


def test_access_log_lines_do_not_show_query_string_values(logged_server: LoggedServer):
    since = logged_server.mark()
    secret = "signed-export-token-secret-part"
    response = httpx.get(
        f"{logged_server.base}/exports/transactions.csv?token={secret}&accountId=1"
    )
    assert response.status_code in (400, 403)
    events = logged_server.wait_for("GET /exports/transactions.csv", since)
    access = [e["event"] for e in events if e["logger"] == "uvicorn.access"]
    assert any(
        '"GET /exports/transactions.csv?token=***&accountId=*** HTTP/1.1"' in line
        for line in access
    ), access
    assert secret.encode() not in logged_server.log_path.read_bytes()[since:]


def test_a_body_cut_short_is_one_line_not_a_traceback(logged_server: LoggedServer):
    since = logged_server.mark()
    with _connect(logged_server) as client:
        client.sendall(
            b"POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"query": "{ __typ'
        )
    events = logged_server.wait_for("client disconnected", since)
    assert _faults(events) == []
    said = [(e["level"], e["event"]) for e in events]
    assert ("info", "client disconnected before the response: POST /graphql") in said
    assert httpx.get(f"{logged_server.base}/healthz").text == "ok"


async def test_a_download_abandoned_midway_is_not_a_traceback(logged_server: LoggedServer, ann):
    await create_account(ann)
    for i in range(3):
        await buy(ann, 100, f"p{i}")
    since = logged_server.mark()
    with _connect(logged_server) as client:
        client.sendall(
            b"GET /exports/transactions.xlsx HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: Bearer {ann.token}\r\n\r\n".encode()
        )
        assert client.recv(12).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(0.5)
    events = logged_server.events(since)
    assert any('"GET /exports/transactions.xlsx HTTP/1.1" 200' in e["event"] for e in events)
    assert _faults(events) == []
