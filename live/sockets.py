"""The WebSocket side of /graphql (`graphql-transport-ws`): sign-in and limits.

- Sign-in: `connection_init`'s payload carries `{"authorization": "Bearer <JWT>"}`,
  checked by the same TokenVerifier as HTTP; a bad or missing token closes the socket
  with 4403. The token is checked again before each event (it may expire meanwhile).
- At most WS_MAX_CONNECTIONS_PER_USER open connections per user in one server process;
  one more is closed with 4429.
- A connection with no subscription running and no message from the client for
  WS_IDLE_TIMEOUT_SECONDS is closed with 4408.
- A client message over WS_MAX_MESSAGE_BYTES closes the socket with 1009.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from json import JSONDecodeError

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)

from auth import AuthError, TokenVerifier, bearer_token
from graph.context import Context
from observability import LIVE_CONNECTIONS
from settings import Settings

FORBIDDEN = 4403
TOO_MANY_CONNECTIONS = 4429
IDLE = 4408
MESSAGE_TOO_BIG = 1009


class Refused(Exception):
    """`connection_init` refused: the socket is closed with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class LiveSockets:
    """The view's WebSocket settings and this process's open connections per user."""

    def __init__(self, settings: Settings, verifier: TokenVerifier) -> None:
        self.settings = settings
        self.verifier = verifier
        self.open: Counter[str] = Counter()

    async def admit(self, context: Context) -> None:
        """Sign the connection in from `connection_init`'s payload and take one of the
        user's connections; `Refused` otherwise."""
        params = context.connection_params or {}
        header = params.get("authorization", params.get("Authorization"))
        try:
            token = bearer_token(header if isinstance(header, str) else None)
            claims = await self.verifier.verify(token)
        except AuthError as exc:
            raise Refused(FORBIDDEN, f"Forbidden: {exc}"[:120]) from exc
        if self.open[claims.sub] >= self.settings.ws_max_connections_per_user:
            raise Refused(TOO_MANY_CONNECTIONS, "Too many connections for this user")
        self.open[claims.sub] += 1
        LIVE_CONNECTIONS.inc()
        context.claims, context.auth_error = claims, None
        context.signed_in_still = _recheck(self.verifier, token)

    def release(self, context: Context) -> None:
        if context.claims is not None:
            sub = context.claims.sub
            self.open[sub] -= 1
            LIVE_CONNECTIONS.dec()
            if self.open[sub] <= 0:
                del self.open[sub]


def _recheck(verifier: TokenVerifier, token: str) -> Callable[[], Awaitable[str | None]]:
    async def still_valid() -> str | None:
        """None while the connection's token is good; else why not (expired...)."""
        try:
            await verifier.verify(token)
        except AuthError as exc:
            return str(exc)
        return None

    return still_valid


def sockets_of(view: object) -> LiveSockets:
    sockets = getattr(view, "live_sockets", None)
    if not isinstance(sockets, LiveSockets):
        raise TypeError("the GraphQL view has no live_sockets")
    return sockets


class LiveHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's protocol handler, with sign-in refusals, connection slots and the
    idle timeout."""

    admitted = False
    idle_task: asyncio.Task[None] | None = None
    last_active = 0.0

    def on_request_accepted(self) -> None:
        super().on_request_accepted()
        self.last_active = time.monotonic()
        self.idle_task = asyncio.create_task(self._close_when_idle())

    async def handle_message(self, message: Message) -> None:
        self.last_active = time.monotonic()
        await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except Refused as refusal:
            await self.websocket.close(code=refusal.code, reason=refusal.reason)
        finally:
            # `admit` took a place (and set this) even if the client left before the ack.
            self.admitted = self.context.signed_in_still is not None

    def forget_id(self, id: str) -> None:
        super().forget_id(id)
        self.last_active = time.monotonic()

    async def cleanup_operation(self, operation_id: str) -> None:
        await super().cleanup_operation(operation_id)
        self.last_active = time.monotonic()

    async def shutdown(self) -> None:
        if self.idle_task is not None:
            self.idle_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.idle_task
        if self.admitted:
            self.admitted = False
            sockets_of(self.view).release(self.context)
        await super().shutdown()

    async def _close_when_idle(self) -> None:
        timeout = sockets_of(self.view).settings.ws_idle_timeout_seconds
        while True:
            await asyncio.sleep(max(self.last_active + timeout - time.monotonic(), 0.05))
            if self.operations:
                self.last_active = time.monotonic()
            elif time.monotonic() - self.last_active >= timeout:
                await self.websocket.close(code=IDLE, reason="Idle timeout")
                return


class LimitedWebSocket(ASGIWebSocketAdapter):
    """Strawberry's adapter, refusing client messages over WS_MAX_MESSAGE_BYTES before
    they are parsed."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        limit = sockets_of(self.view).settings.ws_max_message_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                if len(text) > limit // 4 and len(text.encode()) > limit:
                    await self.close(MESSAGE_TOO_BIG, "Message too big")
                    return
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass
