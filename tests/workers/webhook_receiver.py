"""A webhook receiver on loopback: a small HTTP/1.1 server that keeps every request and
answers each with the next of its scripted replies (a status, or "hang": no answer)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    path: str


@dataclass
class Receiver:
    replies: list[int | str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    def url(self, host: str = "127.0.0.1", path: str = "/hooks") -> str:
        return f"http://{host}:{self.port}{path}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(headers, body, head[0].split(" ")[1]))
            reply = self.replies.pop(0) if self.replies else 200
            if reply == "hang":
                await asyncio.sleep(30)
                return
            text = b"x" * 5000 if reply == 500 else b"ok"
            writer.write(
                f"HTTP/1.1 {reply} Whatever\r\nContent-Length: {len(text)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + text
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
