"""The ASGI application: GraphQL, exports, health and metrics, and the database lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from cross_web import HTTPException  # what Strawberry's view raises for a bad request
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.types.unset import UnsetType
from tortoise import Tortoise, connections

from auth import AuthError, TokenVerifier, bearer_token
from compiled.executor import CompiledReads
from compiled.persisted import PersistedQueries, PersistedQueryError
from downloads import export_endpoint
from graph.context import Context
from ledger.errors import ErrorCode
from live.sockets import LimitedWebSocket, LiveHandler, LiveSockets
from observability import (
    GRAPHQL_EXECUTIONS,
    RequestContext,
    configure_logging,
    current_request_id,
    metrics,
)
from schema.root import build_schema, validation_rules
from settings import Settings, get_settings, tortoise_config

log = logging.getLogger("credits.app")
STATIC = Path(__file__).resolve().parent / "static"
GRAPHIQL_PAGE = STATIC / "graphiql.html"
GRAPHIQL_ASSETS = STATIC / "graphiql"
PORTAL = STATIC / "portal"  # the owner portal's build (`make portal`); absent without Node


class CreditsGraphQL(GraphQL[Context, None]):
    # Subscriptions: sign-in at connection_init and the limits (live.sockets).
    graphql_transport_ws_handler_class = LiveHandler
    websocket_adapter_class = LimitedWebSocket

    def __init__(self, settings: Settings) -> None:
        schema = build_schema(settings)
        super().__init__(
            schema,
            graphql_ide=None if settings.is_production else "graphiql",
            allow_queries_via_get=False,
            subscription_protocols=("graphql-transport-ws",),
            max_subscriptions_per_connection=settings.ws_max_subscriptions_per_connection,
            allowed_origins=settings.cors_origin_list,
        )
        self.verifier = TokenVerifier(settings)
        self.live_sockets = LiveSockets(settings, self.verifier)
        self.persisted = PersistedQueries()
        self.compiled = (
            CompiledReads(
                schema._schema, validation_rules(settings), max_tokens=settings.max_tokens
            )
            if settings.compiled_reads
            else None
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """Our GraphiQL page: its scripts and styles come from this server (built by
        scripts/build-graphiql), so it works offline and trusts no CDN."""
        if not (GRAPHIQL_ASSETS / "graphiql.min.js").is_file():
            return PlainTextResponse(
                "GraphiQL's assets are not built: run scripts/build-graphiql (needs npm).",
                status_code=503,
            )
        return HTMLResponse(GRAPHIQL_PAGE.read_text(encoding="utf-8"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self._compiled(request) or await self.run(request)
        except HTTPException as exc:  # Strawberry answers these in plain text
            response = request_error(exc.reason, exc.status_code)
        except PersistedQueryError as exc:
            response = JSONResponse(
                {"errors": [{"message": exc.message, "extensions": {"code": exc.code}}]},
                status_code=exc.status,
            )
        else:
            if not isinstance(response, CompiledAnswer):
                GRAPHQL_EXECUTIONS.labels("reference").inc()
        await response(scope, receive, send)

    async def _compiled(self, request: Request) -> Response | None:
        """The compiled path's answer (decision 27), or None for the reference executor.
        The body read here stays with the request for Strawberry."""
        if (
            self.compiled is None
            or request.method != "POST"
            or not request.headers.get("content-type", "").startswith("application/json")
        ):
            return None
        body = self.parse_json(await request.body())
        if not isinstance(body, dict):
            return None
        answer = await self.compiled.answer(body, lambda: self.get_context(request, Response()))
        return None if answer is None else CompiledAnswer(answer)

    def parse_json(self, data: str | bytes) -> Any:
        """An HTTP body: a JSON object (or a batch, which the view refuses) in UTF-8, as
        JSON must be. WebSocket messages do not come this way (they use `decode_json`)."""
        try:
            text = data.decode() if isinstance(data, bytes) else data
        except UnicodeDecodeError as exc:
            raise HTTPException(400, "The request body is not UTF-8") from exc
        try:
            decoded = super().parse_json(text)
        except RecursionError as exc:
            raise HTTPException(400, "The request body is nested too deeply") from exc
        if not isinstance(decoded, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return self.persisted.resolve(decoded) if isinstance(decoded, dict) else decoded

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        await self.live_sockets.admit(context)
        return await super().on_ws_connect(context)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        http_request = request if isinstance(request, Request) else None
        client = request.client.host if request.client else ""
        try:
            claims = await self.verifier.verify(bearer_token(request.headers.get("authorization")))
        except AuthError as exc:
            return Context(
                request=http_request,
                claims=None,
                auth_error=str(exc),
                client_address=client,
                request_id=current_request_id(),
            )
        return Context(
            request=http_request,
            claims=claims,
            client_address=client,
            request_id=current_request_id(),
        )


class PortalFiles(StaticFiles):
    """The portal's files; any other path under /portal (an email's link to
    /portal/redemptions, say) gets its page, which opens that section."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except StarletteHTTPException as exc:
            if exc.status_code != 404 or "." in path.rsplit("/", 1)[-1]:
                raise
            return await super().get_response("index.html", scope)


class CompiledAnswer(JSONResponse):
    """A response the compiled path made (the same JSON, encoded by orjson)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def request_error(message: str, status: int) -> JSONResponse:
    """A request GraphQL cannot even read, answered as a GraphQL error all the same."""
    code = ErrorCode.NOT_FOUND if status == 404 else ErrorCode.INVALID_INPUT
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code.value}}]}, status_code=status
    )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        await connections.get("default").execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"
        log.warning("readiness: database: %s", exc)
        checks["database"] = "down"
    settings: Settings = request.app.state.settings
    if settings.redis_url:
        checks["broker"] = await _redis_ready(settings.redis_url)
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(checks, status_code=200 if ready else 503)


async def _redis_ready(url: str) -> str:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
        return "ok"
    except Exception as exc:
        log.warning("readiness: broker: %s", exc)
        return "down"
    finally:
        await client.aclose()


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """The application; `manage_database=False` leaves Tortoise to the caller (tests).

    Without REDIS_URL the outbox relay, mail delivery and scheduler run in this process.
    """
    settings = settings or get_settings()
    if manage_database:  # a real server process (each uvicorn worker builds its own app)
        configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    settings.check()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if not manage_database:
            yield {}
            return
        await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
        # Start-up objects (schema, models, modules) live for ever: keep them out of the
        # collector's way (bench/ measured a third less CPU per request on big lists).
        gc.collect()
        gc.freeze()
        embedded = None
        if settings.embedded_workers and not settings.redis_url:
            from workers.embedded import EmbeddedWorkers

            embedded = EmbeddedWorkers(settings)
            embedded.start()
        bridge = None
        if settings.redis_url:  # live events from the workers' relays (live.feed)
            from live.feed import RedisBridge

            bridge = RedisBridge(settings)
            await bridge.start()
        try:
            yield {}
        finally:
            if bridge is not None:
                await bridge.stop()
            if embedded is not None:
                await embedded.stop()
            await Tortoise.close_connections()

    graphql_app = CreditsGraphQL(settings)
    routes: list[Route | WebSocketRoute | Mount] = [
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_app),
        Route("/exports/{dataset}.{format}", export_endpoint(graphql_app.verifier)),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
    ]
    if not settings.is_production:  # GraphiQL's own files; production has no IDE
        routes.append(Mount("/graphiql", StaticFiles(directory=GRAPHIQL_ASSETS, check_dir=False)))
    if (PORTAL / "index.html").is_file():
        routes.append(Mount("/portal", PortalFiles(directory=PORTAL, html=True)))
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestContext),
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
            ),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app
