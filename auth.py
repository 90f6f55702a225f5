"""Bearer tokens: HS256 with a shared secret, or RS256 keys from the identity provider's JWKS.

`exp` is always required; issuer and audience are checked when configured.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from settings import Settings, get_settings

LEEWAY_SECONDS = 30


class AuthError(Exception):
    """The request carries no usable token."""


@dataclass(frozen=True)
class Claims:
    sub: str
    email: str
    name: str
    email_verified: bool
    is_support: bool


class TokenVerifier:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                lifespan=300,
                cooldown_duration=settings.jwt_jwks_refresh_seconds,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def _key(self, token: str) -> tuple[object, list[str]]:
        if self._jwks is None:
            return self.settings.jwt_secret, ["HS256"]
        try:
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"no signing key for this token: {exc}") from exc
        return signing_key.key, ["RS256"]

    async def verify(self, token: str) -> Claims:
        try:
            key, algorithms = await self._key(token)
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=algorithms,
                audience=self.settings.jwt_audience or None,
                issuer=self.settings.jwt_issuer or None,
                leeway=LEEWAY_SECONDS,
                options={
                    "require": ["exp", "sub"],
                    "verify_aud": bool(self.settings.jwt_audience),
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise AuthError("the token has no email claim")
        roles = claims.get("roles") or []
        return Claims(
            sub=str(claims["sub"]),
            email=email,
            name=str(claims.get("name") or ""),
            email_verified=claims.get("email_verified", True) is not False,
            is_support=isinstance(roles, list) and "support" in roles,
        )


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthError("sign in: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def mint_token(
    *,
    email: str,
    name: str,
    support: bool = False,
    ttl: timedelta = timedelta(hours=12),
    settings: Settings | None = None,
    sub: str | None = None,
) -> str:
    """A development token signed with the configured HS256 secret."""
    settings = settings or get_settings()
    # Wall-clock time, not the application's clock: verification checks `exp` against it.
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": sub or f"local|{email.strip().lower()}",
        "email": email,
        "name": name,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if support:
        claims["roles"] = ["support"]
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
