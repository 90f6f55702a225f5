"""The ASGI application: GraphQL, health checks, CORS, and the database lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from tortoise import Tortoise, connections

from auth import AuthError, TokenVerifier, bearer_token
from exports import export_endpoint
from ledger.actors import Actor
from ledger.users import sign_in
from schema.context import Context
from schema.root import schema
from settings import Settings, get_settings, tortoise_config

log = logging.getLogger("credits.app")


class CreditsGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings) -> None:
        super().__init__(
            schema,
            graphql_ide=None if settings.is_production else "graphiql",
            allow_queries_via_get=False,
            subscription_protocols=("graphql-transport-ws",),
        )
        self.verifier = TokenVerifier(settings)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        http_request = request if isinstance(request, Request) else None
        client = request.client.host if request.client else ""
        try:
            claims = await self.verifier.verify(bearer_token(request.headers.get("authorization")))
        except AuthError as exc:
            return Context(
                request=http_request, actor=None, auth_error=str(exc), client_address=client
            )
        user = await sign_in(
            sub=claims.sub,
            email=claims.email,
            name=claims.name,
            email_verified=claims.email_verified,
        )
        return Context(
            request=http_request,
            actor=Actor(user=user, is_support=claims.is_support),
            client_address=client,
        )


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def readyz(request: Request) -> Response:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure means "not ready"
        log.warning("readiness check failed: %s", exc)
        return JSONResponse({"database": "down"}, status_code=503)
    return JSONResponse({"database": "ok"})


def create_app(settings: Settings | None = None, *, manage_database: bool = True) -> Starlette:
    """The application; `manage_database=False` leaves Tortoise to the caller (tests).

    Without REDIS_URL the outbox relay, mail delivery and scheduler run in this process.
    """
    settings = settings or get_settings()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if not manage_database:
            yield {}
            return
        await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=True)
        embedded = None
        if settings.embedded_workers and not settings.redis_url:
            from workers.embedded import EmbeddedWorkers

            embedded = EmbeddedWorkers(settings)
            embedded.start()
        try:
            yield {}
        finally:
            if embedded is not None:
                await embedded.stop()
            await Tortoise.close_connections()

    graphql_app = CreditsGraphQL(settings)
    return Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route("/exports/{dataset}.{format}", export_endpoint(graphql_app.verifier)),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origin_list,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
            )
        ],
        lifespan=lifespan,
    )


def __getattr__(name: str) -> Starlette:
    # `uvicorn app:app` builds the app lazily, after the environment is read.
    if name == "app":
        return create_app()
    raise AttributeError(name)
