"""The per-request context: who is asking, and the request's DataLoaders.

The token is verified when the request arrives (no database work); the user row is
loaded the first time a resolver asks, so a request refused by validation (too deep,
too many aliases) costs no query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.requests import Request

from auth import Claims
from graph.loaders import Loaders
from ledger.actors import Actor
from ledger.users import sign_in


@dataclass
class Context:
    request: Request | None
    claims: Claims | None
    auth_error: str | None = None
    loaders: Loaders = field(default_factory=Loaders)
    client_address: str = ""
    request_id: str = ""
    # Objects read by id (`node`, `nodes`) in this request: each read once, and a bounded
    # number of them, however many fields and aliases ask.
    read_by_id: dict[tuple[str, int], Any] = field(default_factory=dict)
    # A WebSocket connection (live.sockets): what `connection_init` carried, set by
    # Strawberry, and how to ask before each event whether its token is still good
    # (None when it is, else why not).
    connection_params: dict[str, Any] | None = None
    signed_in_still: Callable[[], Awaitable[str | None]] | None = None
    _actor: Actor | None = None

    async def actor(self) -> Actor | None:
        """The signed-in caller (None without a valid token), loaded once per request."""
        if self._actor is None and self.claims is not None:
            claims = self.claims
            user = await sign_in(
                sub=claims.sub,
                email=claims.email,
                name=claims.name,
                email_verified=claims.email_verified,
            )
            self._actor = Actor(user=user, is_support=claims.is_support)
        return self._actor

    def forget_reads(self) -> None:
        """Start afresh before each event of a subscription: a connection lives for
        hours, and what its loaders read for one event is stale for the next."""
        self.loaders = Loaders()
        self.read_by_id = {}


Info = strawberry.Info[Context, None]
