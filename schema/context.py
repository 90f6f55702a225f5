"""The per-request context: who is asking, and the request's DataLoaders."""

from __future__ import annotations

from dataclasses import dataclass, field

import strawberry
from starlette.requests import Request

from ledger.actors import Actor
from resolvers.loaders import Loaders


@dataclass
class Context:
    request: Request | None
    actor: Actor | None
    auth_error: str | None = None
    loaders: Loaders = field(default_factory=Loaders)
    client_address: str = ""


Info = strawberry.Info[Context, None]
