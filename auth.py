"""Bearer tokens: HS256 with a shared secret, or RS256 keys from the identity provider's JWKS.

`exp` is always required; issuer and audience are checked when configured. The claims
the service stores (`sub`, `email`, `name`) must fit their columns and hold storable
text, or the token is refused here, naming the claim, instead of failing every request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from ledger.errors import InvalidInput
from ledger.text import clean_email, has_control_characters
from models import limits
from settings import Settings, get_settings

LEEWAY_SECONDS = 30
# A verified token is trusted again without a check for this long (never past its `exp`),
# at most this many of them per process.
VERIFIED_FOR_SECONDS = 60
VERIFIED_TOKENS = 10_000


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
        self._verified: dict[str, tuple[float, Claims]] = {}  # token → (trusted until, claims)
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
            return self.settings.jwt_secret.get_secret_value(), ["HS256"]
        try:
            signing_key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"no signing key for this token: {exc}") from exc
        return signing_key.key, ["RS256"]

    async def verify(self, token: str) -> Claims:
        """The token's claims; a token verified in the last `VERIFIED_FOR_SECONDS` (and not
        expired since) is not checked again: clients send the same one with every request."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None and known[0] > now:
            return known[1]
        claims, expires = await self._verify(token)
        self._verified[token] = (min(expires + LEEWAY_SECONDS, now + VERIFIED_FOR_SECONDS), claims)
        if len(self._verified) > VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest
        return claims

    async def _verify(self, token: str) -> tuple[Claims, float]:
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
        sub = _text_claim(claims, "sub", max_length=limits.USER_SUB)
        if not sub.strip():
            raise AuthError("the token's 'sub' claim is empty")
        roles = claims.get("roles") or []
        verified = Claims(
            sub=sub,
            email=_email_claim(claims),
            name=_text_claim(claims, "name", max_length=limits.USER_NAME),
            email_verified=_email_verified(claims, self.settings.jwt_emails_verified),
            is_support=isinstance(roles, list) and "support" in roles,
        )
        return verified, float(claims["exp"])


def _text_claim(claims: dict[str, Any], key: str, *, max_length: int) -> str:
    value = claims.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise AuthError(f"the token's '{key}' claim is not a string")
    if len(value) > max_length:
        raise AuthError(f"the token's '{key}' claim is longer than {max_length} characters")
    if has_control_characters(value):
        raise AuthError(f"the token's '{key}' claim contains control characters or invalid Unicode")
    return value


def _email_claim(claims: dict[str, Any]) -> str:
    email = claims.get("email")
    if email is None:
        raise AuthError("the token has no 'email' claim")
    if not isinstance(email, str):
        raise AuthError("the token's 'email' claim is not a string")
    try:
        return clean_email(email, "the token's 'email' claim")
    except InvalidInput as exc:
        raise AuthError(exc.message) from exc


def _email_verified(claims: dict[str, Any], default: bool) -> bool:
    """`true` (some providers send the string) is verified; a missing claim is `default`."""
    value = claims.get("email_verified")
    if value is None:
        return default
    return value is True or (isinstance(value, str) and value.lower() == "true")


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
    email_verified: bool = True,
) -> str:
    """A development token signed with the configured HS256 secret, its email verified."""
    settings = settings or get_settings()
    # Wall-clock time, not the application's clock: verification checks `exp` against it.
    now = datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": sub or f"local|{email.strip().lower()}",
        "email": email,
        "email_verified": email_verified,
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
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")
