"""Bearer tokens: HS256 with the configured secret, RS256 from a JWKS served on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auth import AuthError, TokenVerifier, mint_token
from settings import Settings
from tests.helpers import GraphQLClient

VIEWER = "{ viewer { user { email } isSupport } }"


async def test_no_token_is_unauthenticated():
    assert await GraphQLClient(None).error_code(VIEWER) == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        jwt.encode(
            {"sub": "x", "email": "x@example.com", "exp": int(time.time()) + 60},
            "some-other-secret-of-sufficient-length",
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": "x", "email": "x@example.com"},  # no exp
            Settings().jwt_secret.get_secret_value(),
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": "x", "email": "x@example.com", "exp": int(time.time()) - 3600},
            Settings().jwt_secret.get_secret_value(),
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": "x", "exp": int(time.time()) + 60},  # no email
            Settings().jwt_secret.get_secret_value(),
            algorithm="HS256",
        ),
    ],
    ids=["garbage", "wrong-secret", "no-exp", "expired", "no-email"],
)
async def test_bad_tokens_are_unauthenticated_on_queries_and_mutations(token):
    client = GraphQLClient(token)
    assert await client.error_code(VIEWER) == "UNAUTHENTICATED"
    mutation = 'mutation { createAccount(input: {name: "x"}) { errors { code } } }'
    assert await client.error_code(mutation) == "UNAUTHENTICATED"


async def test_support_role_comes_from_the_token():
    client = GraphQLClient(mint_token(email="sam@example.com", name="Sam", support=True))
    assert (await client.data(VIEWER))["viewer"]["isSupport"] is True


async def test_issuer_and_audience_are_checked_when_configured():
    settings = Settings(jwt_issuer="https://id.example", jwt_audience="credits")
    verifier = TokenVerifier(settings)
    good = mint_token(email="a@example.com", name="A", settings=settings)
    assert (await verifier.verify(good)).email == "a@example.com"
    other = Settings(jwt_issuer="https://evil.example", jwt_audience="credits")
    with pytest.raises(AuthError):
        await verifier.verify(mint_token(email="a@example.com", name="A", settings=other))
    no_audience = Settings(jwt_issuer="https://id.example")
    with pytest.raises(AuthError):
        await verifier.verify(mint_token(email="a@example.com", name="A", settings=no_audience))


def test_credits_token_prints_only_a_verifiable_token(capsys):
    from cli import main

    main(["token", "--email", "ann@example.com", "--name", "Ann", "--support"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    claims = jwt.decode(out.strip(), Settings().jwt_secret.get_secret_value(), algorithms=["HS256"])
    assert claims["email"] == "ann@example.com" and claims["roles"] == ["support"]


class JWKS:
    """A key set served over HTTP on loopback, whose keys can be rotated."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.requests = 0
        jwks = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                jwks.requests += 1
                body = json.dumps(
                    {
                        "keys": [
                            {
                                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())),
                                "kid": kid,
                                "use": "sig",
                                "alg": "RS256",
                            }
                            for kid, k in jwks.keys.items()
                        ]
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def token(self, kid: str, **claims: object) -> str:
        body = {
            "sub": "idp|ann",
            "email": "ann@example.com",
            "name": "Ann",
            "exp": int(time.time()) + 600,
            **claims,
        }
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def jwks() -> Iterator[JWKS]:
    served = JWKS()
    yield served
    served.server.shutdown()


async def test_rs256_tokens_verify_against_the_jwks_and_survive_key_rotation(jwks):
    jwks.add_key("key-2026-01")
    verifier = TokenVerifier(Settings(jwt_jwks_url=jwks.url, jwt_jwks_refresh_seconds=0))
    assert (await verifier.verify(jwks.token("key-2026-01"))).sub == "idp|ann"

    # The identity provider rotates: a new key appears and the old one is withdrawn.
    jwks.add_key("key-2026-07")
    del jwks.keys["key-2026-01"]
    claims = await verifier.verify(jwks.token("key-2026-07", email="ann@example.com"))
    assert claims.email == "ann@example.com"
    assert jwks.requests == 2  # an unknown kid refreshes the key set once

    forged = jwt.encode(
        {"sub": "idp|ann", "email": "ann@example.com", "exp": int(time.time()) + 60},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "key-2026-07"},
    )
    with pytest.raises(AuthError):
        await verifier.verify(forged)
    hs256 = mint_token(email="ann@example.com", name="Ann", ttl=timedelta(minutes=5))
    with pytest.raises(AuthError):
        await verifier.verify(hs256)


async def test_the_app_accepts_rs256_tokens(jwks, database):
    import httpx

    from app import create_app

    jwks.add_key("k1")
    app = create_app(Settings(jwt_jwks_url=jwks.url), manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.post(
            "/graphql",
            json={"query": VIEWER},
            headers={"Authorization": f"Bearer {jwks.token('k1')}"},
        )
    assert response.json()["data"]["viewer"]["user"]["email"] == "ann@example.com"


async def test_unknown_key_ids_do_not_refetch_the_key_set_within_the_cooldown(jwks):
    jwks.add_key("k1")
    verifier = TokenVerifier(Settings(jwt_jwks_url=jwks.url, jwt_jwks_refresh_seconds=60))
    await verifier.verify(jwks.token("k1"))
    jwks.add_key("k2")
    with pytest.raises(AuthError):
        await verifier.verify(jwks.token("k2"))
    assert jwks.requests == 1


def _claims_token(**claims: object) -> str:
    body = {
        "sub": "idp|ann",
        "email": "ann@example.com",
        "email_verified": True,
        "name": "Ann",
        "exp": int(time.time()) + 600,
        **claims,
    }
    return jwt.encode(body, Settings().jwt_secret.get_secret_value(), algorithm="HS256")


@pytest.mark.parametrize(
    "claim,value",
    [
        ("email", "a" * 990 + "@example.com"),
        ("email", "ann\x00@example.com"),
        ("email", "ann\ud800@example.com"),
        ("email", "ann\u202e@example.com"),
        ("name", "N" * 5000),
        ("name", "Ann\x00"),
        ("name", "Ann\ud800"),
        ("name", ["Ann"]),
        ("sub", "s" * 10_000),
        ("sub", "idp|\x00ann"),
        ("sub", "idp|\udfffann"),
        ("sub", ""),
    ],
    ids=[
        "email-1000",
        "email-nul",
        "email-surrogate",
        "email-bidi",
        "name-5000",
        "name-nul",
        "name-surrogate",
        "name-list",
        "sub-10000",
        "sub-nul",
        "sub-surrogate",
        "sub-empty",
    ],
)
async def test_unusable_claims_are_unauthenticated_and_say_which_claim(claim, value):
    client = GraphQLClient(_claims_token(**{claim: value}))
    mutation = 'mutation { createAccount(input: {name: "x"}) { errors { code } } }'
    for query in (VIEWER, mutation):
        body = await client.post(query)
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
        assert f"'{claim}' claim" in error["message"]
    # The same person with sane claims is served.
    assert (await GraphQLClient(_claims_token()).data(VIEWER))["viewer"]["user"] == {
        "email": "ann@example.com"
    }


@pytest.mark.parametrize(
    "claim,verified",
    [(True, True), ("true", True), (False, False), ("false", False), ("yes", False)],
)
async def test_email_verified_is_read_strictly(claim, verified):
    token = _claims_token(email_verified=claim)
    assert (await TokenVerifier(Settings()).verify(token)).email_verified is verified


async def test_a_missing_email_verified_claim_follows_the_setting():
    token = jwt.encode(
        {"sub": "s", "email": "a@example.com", "exp": int(time.time()) + 60},
        Settings().jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    assert (await TokenVerifier(Settings()).verify(token)).email_verified is False
    trusting = TokenVerifier(Settings(jwt_emails_verified=True))
    assert (await trusting.verify(token)).email_verified is True


def test_development_tokens_say_the_email_is_verified(capsys):
    from cli import main

    main(["token", "--email", "ann@example.com", "--name", "Ann"])
    claims = jwt.decode(
        capsys.readouterr().out.strip(),
        Settings().jwt_secret.get_secret_value(),
        algorithms=["HS256"],
    )
    assert claims["email_verified"] is True
