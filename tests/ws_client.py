"""A `graphql-transport-ws` client over a real WebSocket (the `websockets` package), as
Apollo's and urql's speak it, for tests against a live server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from types import TracebackType
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from auth import mint_token


def token_for(email: str, name: str = "", support: bool = False) -> str:
    return mint_token(email=email, name=name or email.split("@")[0].title(), support=support)


class LiveClient:
    """One connection: `connection_init` with the token, then subscriptions by id."""

    def __init__(self, base_url: str, token: str | None, *, payload: Any = None) -> None:
        self.url = base_url.replace("http://", "ws://", 1) + "/graphql"
        self.payload = (
            payload
            if payload is not None
            else ({"authorization": f"Bearer {token}"} if token else {})
        )
        self.socket: ClientConnection | None = None

    async def __aenter__(self) -> LiveClient:
        self.socket = await connect(self.url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await self.send({"type": "connection_init", "payload": self.payload})
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self.socket is not None
        await self.socket.close()

    async def send(self, message: dict[str, Any]) -> None:
        assert self.socket is not None
        await self.socket.send(json.dumps(message))

    async def acknowledged(self) -> None:
        message = await self.receive(within=10)
        assert message == {"type": "connection_ack"}, message

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send(
            {"id": id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )

    async def receive(self, within: float = 10) -> dict[str, Any]:
        """The next message; TimeoutError when none comes within `within` seconds."""
        assert self.socket is not None
        text = await asyncio.wait_for(self.socket.recv(), within)
        return dict(json.loads(text))

    async def messages(self, quiet: float) -> list[dict[str, Any]]:
        """Every message until none has come for `quiet` seconds (or the server closed
        the connection)."""
        found = []
        while True:
            try:
                found.append(await self.receive(within=quiet))
            except (TimeoutError, ConnectionClosed):
                return found

    async def closed(self, within: float = 10) -> tuple[int, str]:
        """The close code and reason once the server closes the connection."""
        assert self.socket is not None
        try:
            while True:
                await asyncio.wait_for(self.socket.recv(), within)
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame"
            return closed.rcvd.code, closed.rcvd.reason


async def until_subscribed(base_url: str, count: int, within: float = 10) -> None:
    """Until the server (one process) has exactly `count` subscriptions listening: an
    event sent after that reaches them all."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as http:
        while True:
            text = (await http.get("/metrics")).text
            found = re.search(r"^credits_live_subscriptions(?:\{[^}]*\})? (\S+)$", text, re.M)
            if found and float(found.group(1)) == count:
                return
            assert time.monotonic() < deadline, f"not {count} subscriptions: {found}"
            await asyncio.sleep(0.05)
