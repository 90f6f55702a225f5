"""Automatic persisted queries (Apollo's protocol): a client sends a document's SHA-256
instead of its text once the server has seen the text with that hash.

    {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<hex>"}}, ...}

Without `query`, a known hash stands for its text and an unknown one answers
PERSISTED_QUERY_NOT_FOUND (the client sends the text with the hash then); with `query`,
the hash must be the text's, and the pair is remembered. Each server process keeps the
most recently used `SIZE` documents (decision 27).
"""

from __future__ import annotations

import hashlib
from typing import Any

from compiled.executor import Lru

SIZE = 2_000


class PersistedQueryError(Exception):
    """A request the protocol refuses: answered as a GraphQL error with this code."""

    def __init__(self, message: str, code: str, status: int) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


class PersistedQueries:
    def __init__(self, size: int = SIZE) -> None:
        self.documents: Lru[str, str] = Lru(size)

    def resolve(self, body: dict[str, Any]) -> dict[str, Any]:
        """`body` with its `query` (from the store when only the hash came)."""
        extensions = body.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            return body
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError(
                "persistedQuery must be {version: 1, sha256Hash}", "INVALID_INPUT", 400
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str):
            raise PersistedQueryError("persistedQuery.sha256Hash is missing", "INVALID_INPUT", 400)
        query = body.get("query")
        if query is None:
            known = self.documents.get(digest)
            if known is None:
                raise PersistedQueryError(
                    "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200
                )
            return {**body, "query": known}
        if not isinstance(query, str):
            return body  # the reference executor refuses it as it refuses any such body
        if hashlib.sha256(query.encode()).hexdigest() != digest.lower():
            raise PersistedQueryError(
                "persistedQuery.sha256Hash is not the SHA-256 of query", "INVALID_INPUT", 400
            )
        self.documents.put(digest.lower(), query)
        return body
