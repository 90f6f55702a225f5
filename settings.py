"""Every setting, read from the environment, with embedded defaults.

With no environment at all the service runs on a SQLite file, an in-process broker,
a mail directory and HS256 tokens signed with a development secret.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal

import asyncpg
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from tortoise.backends.base.config_generator import expand_db_url

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789"
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789"
GENERATE_SECRET = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
MIN_SECRET_BYTES = 32
# Words of placeholders and guessed secrets. Five letters or more: a random secret holds
# one by chance about once in a million.
GUESSABLE_WORDS = (
    "secret", "passw", "change", "example", "default", "sample", "dummy", "letmein",
    "qwerty", "admin", "compose", "insecure", "development", "production",
)  # fmt: skip

log = logging.getLogger("credits.settings")


class StatelessConnection(asyncpg.Connection):  # type: ignore[misc]
    """A pooled PostgreSQL connection released without `RESET ALL; UNLISTEN *; …`.

    Tortoise takes a pool connection per statement outside transactions, and asyncpg
    runs its reset query at every release: a second round trip per statement. The
    service keeps no session state (no SET, LISTEN, cursors or advisory locks), and an
    open transaction is still rolled back on release.
    """

    def get_reset_query(self) -> str:
        return ""


def _longest_run(value: str) -> int:
    """The longest stretch of neighbouring characters in order: `abcdef`, `98765`."""
    longest = 1
    for step in (1, -1):
        run = 1
        for before, after in pairwise(value):
            run = run + 1 if ord(after) - ord(before) == step else 1
            longest = max(longest, run)
    return longest


def secret_weakness(value: str) -> str | None:
    """Why a signing secret could be guessed, or None when it looks random."""
    if not value:
        return "is not set"
    if value in (DEV_JWT_SECRET, DEV_SECRET_KEY):
        return "is the development default"
    size = len(value.encode())
    if size < MIN_SECRET_BYTES:
        return f"is shorter than {MIN_SECRET_BYTES} bytes ({size})"
    if len(set(value)) < 10:
        return "has fewer than 10 different characters"
    kinds = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    if sum(any(kind(c) for c in value) for kind in kinds) < 2:
        return "is made of one kind of character"
    trigrams = [value[i : i + 3] for i in range(len(value) - 2)]
    if len(set(trigrams)) < 0.75 * len(trigrams) or _longest_run(value) >= 7:
        return "repeats a pattern"
    if any(word in value.lower() for word in GUESSABLE_WORDS):
        return "contains a guessable word"
    return None


class ConfigurationError(RuntimeError):
    """The environment does not describe a service that may start."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = ""
    db_pool_size: int = Field(default=20, ge=1)
    redis_url: str = ""
    # Prefix of every Redis queue and key: deployments sharing one Redis database stay apart.
    redis_namespace: str = Field(default="credits", pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_jwks_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    # After a token names an unknown key id, the key set is fetched again at most this often.
    jwt_jwks_refresh_seconds: float = Field(default=10, ge=0)
    # A token without `email_verified` counts as verified only when the identity provider
    # verifies every address it puts in tokens; otherwise its email links no invitation.
    jwt_emails_verified: bool = False
    # Signs and encrypts redemption codes and export links; never leaves the server.
    secret_key: SecretStr = SecretStr(DEV_SECRET_KEY)

    # Where the API answers, as clients reach it (export download links).
    public_url: str = "http://127.0.0.1:8000"
    # Where owners open the portal (links in emails); the reference portal is served by
    # `credits serve` at /portal when built.
    portal_url: str = "http://127.0.0.1:8000/portal"
    cors_origins: str = ""
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or
    # networks, `*` for any). None by default: the connecting peer is the client.
    forwarded_allow_ips: str = ""

    smtp_host: str = ""
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    smtp_tls: bool = False
    mail_from: str = "Training Credits <credits@localhost>"
    support_email: str = "support@localhost"
    mail_dir: str = "mail"

    expiry_cron: str = "15 0 * * *"
    reminders_cron: str = "0 8 * * *"
    # Without REDIS_URL, `credits serve` runs the relay, mail delivery and scheduler itself;
    # false makes it an API-only process (another one runs them).
    embedded_workers: bool = True
    # How often the outbox relay looks for new rows, and how mail delivery retries.
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    mail_retry_min_backoff_ms: int = Field(default=15_000, ge=10)
    mail_max_retries: int = Field(default=20, ge=0)
    # A dispatched notification with no attempt for its retry backoff plus this long was
    # lost by the broker and is handed over again; the relay looks this often.
    outbox_redispatch_seconds: float = Field(default=1800, gt=0)
    outbox_sweep_seconds: float = Field(default=30, gt=0)
    # A worker killed mid-delivery holds its message this long at most (renewed while
    # sending).
    mail_lease_seconds: float = Field(default=60, ge=1)
    # Where each delivery notes the copies the SMTP server accepted before the database
    # records them (decision 33); empty: a folder in the temporary directory named after
    # the database. Workers on one machine share it.
    mail_journal_dir: str = ""

    # Outgoing webhooks (decision 31): the time limit of one attempt; retries wait from the
    # minimum backoff, doubling up to the maximum, for as long as the retry window; a
    # delivery handed to the workers and not attempted this long after is handed over again.
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_retry_min_backoff_seconds: float = Field(default=30, gt=0)
    webhook_retry_max_backoff_seconds: float = Field(default=6 * 3600, gt=0)
    webhook_retry_window_seconds: float = Field(default=3 * 86400, gt=0)
    webhook_redispatch_seconds: float = Field(default=120, gt=0)

    # Wrong redemption codes allowed per user / per client address in one window.
    code_attempts_per_user: int = Field(default=10, ge=1)
    code_attempts_per_address: int = Field(default=50, ge=1)
    code_attempts_window: int = Field(default=900, ge=1)

    log_format: Literal["auto", "json", "console"] = "auto"  # auto: JSON in production
    log_level: str = "INFO"

    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    # Read queries and mutations the compiled executor covers skip graphql-core's
    # per-field work (decisions 27, 32); false sends every document through the reference
    # executor.
    compiled_reads: bool = True

    # Subscriptions (GraphQL over WebSocket): open connections per user in one server
    # process; a connection with no subscription running and no message from the client
    # for this long is closed; the largest message a client may send.
    ws_max_connections_per_user: int = Field(default=10, ge=1)
    ws_idle_timeout_seconds: float = Field(default=300, gt=0)
    ws_max_message_bytes: int = Field(default=65_536, ge=1024)
    ws_max_subscriptions_per_connection: int = Field(default=20, ge=1)

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def json_logs(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.is_production)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or "sqlite://training_credits.sqlite3"

    @property
    def cors_origin_list(self) -> list[str]:
        if self.cors_origins:
            return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
        if self.is_production:
            return []
        return ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"]

    def check(self) -> None:
        """Refuse to start a production service on development defaults."""
        if not self.is_production:
            return
        problems = []
        if not self.database_url:
            problems.append("DATABASE_URL must be set explicitly")
        jwt_weakness = (
            None if self.jwt_jwks_url else secret_weakness(self.jwt_secret.get_secret_value())
        )
        if jwt_weakness:
            problems.append(
                f"JWT_SECRET {jwt_weakness}: set JWT_JWKS_URL, or generate a secret with "
                + GENERATE_SECRET
            )
        key_weakness = secret_weakness(self.secret_key.get_secret_value())
        if key_weakness:
            problems.append(f"SECRET_KEY {key_weakness}: generate one with {GENERATE_SECRET}")
        if problems:
            raise ConfigurationError(
                "refusing to start with ENVIRONMENT=production: " + "; ".join(problems)
            )
        if not self.redis_url:
            log.warning("REDIS_URL is not set: using the in-process broker")
        if not self.smtp_host:
            log.warning("SMTP_HOST is not set: mail is written to %s/", self.mail_dir)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def tortoise_config(
    settings: Settings | None = None, db_url: str | None = None
) -> dict[str, object]:
    settings = settings or get_settings()
    url = db_url or settings.effective_database_url
    connection: str | dict[str, Any] = url
    if url.startswith(("postgres://", "postgresql://", "asyncpg://")):
        sep = "&" if "?" in url else "?"
        if "maxsize=" not in url:
            url = f"{url}{sep}minsize=1&maxsize={settings.db_pool_size}"
        connection = expand_db_url(url)
        connection["credentials"]["connection_class"] = StatelessConnection
    return {
        "connections": {"default": connection},
        "apps": {
            "credits": {
                "models": ["models"],
                "migrations": "models.migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def __getattr__(name: str) -> Any:
    """`settings.TORTOISE_ORM`, read by the `tortoise` command line (makemigrations:
    `tortoise -c settings.TORTOISE_ORM`), built when asked for rather than at import."""
    if name == "TORTOISE_ORM":
        return tortoise_config()
    raise AttributeError(f"module 'settings' has no attribute {name!r}")
