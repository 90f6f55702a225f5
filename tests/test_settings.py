import base64
import secrets
import subprocess
import sys

import pytest

from settings import DEV_JWT_SECRET, DEV_SECRET_KEY, ConfigurationError, Settings
from tests.live import free_port


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch):
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "SMTP_HOST",
        "JWT_SECRET",
        "SECRET_KEY",
        "JWT_JWKS_URL",
        "ENVIRONMENT",
    ):
        monkeypatch.delenv(name, raising=False)


def test_development_runs_on_embedded_defaults():
    settings = Settings()
    settings.check()
    assert settings.effective_database_url.startswith("sqlite://")


def test_production_refuses_development_defaults():
    with pytest.raises(ConfigurationError) as caught:
        Settings(environment="production").check()
    message = str(caught.value)
    assert "DATABASE_URL" in message and "JWT" in message and "SECRET_KEY" in message


def test_production_accepts_a_jwks_url_instead_of_a_secret(caplog):
    settings = Settings(
        environment="production",
        database_url="postgres://db/credits",
        jwt_jwks_url="https://id.example/jwks.json",
        jwt_secret=DEV_JWT_SECRET,
        secret_key="qR7vN2xK9pL4wZ8mT3yB6hJ1cF5gD0sA",
    )
    settings.check()
    assert "REDIS_URL" in caplog.text and "SMTP_HOST" in caplog.text


def test_credits_serve_exits_with_a_clear_message_in_production(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "ENVIRONMENT": "production",
            "PATH": "",
            "PYTHONPATH": str(__import__("pathlib").Path(__file__).parent.parent),
        },
        timeout=60,
    )
    assert result.returncode == 2
    assert "refusing to start with ENVIRONMENT=production" in result.stderr


def test_credits_outbox_lists_what_waits(tmp_path):
    db = tmp_path / "c.sqlite3"
    env = {
        "PATH": "",
        "DATABASE_URL": f"sqlite://{db}",
        "PYTHONPATH": str(__import__("pathlib").Path(__file__).parent.parent),
    }
    run = [sys.executable, "-m", "cli"]
    assert (
        subprocess.run(
            [*run, "demo"], cwd=tmp_path, env=env, capture_output=True, timeout=120
        ).returncode
        == 0
    )
    listed = subprocess.run(
        [*run, "outbox", "--limit", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].endswith("undelivered (showing at most 3)")
    assert "purchase_paid" in listed.stdout and "waiting" in listed.stdout


STRONG = "Vt8kQ2pX9mZr4LwN7cYh3JdF6sGb1HqE5uKa0RnT"  # as secrets.token_urlsafe makes them
WEAK_SECRETS = [
    "x",
    "y" * 48,
    "abcd" * 12,  # a repeated pattern
    "abcdefghijklmnopqrstuvwxyzabcdefghij",  # one kind of character
    "0123456789" * 4,
    "abc123abd321cab213bca312acb132ba",  # too few different characters
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789",  # runs through the alphabet
    "aB3$cD5%aB3$cD5%aB3$cD5%aB3$cD5%eF7",  # mostly a repeated pattern
    "correct-horse-battery-staple-password",
    "change-me-compose-only-secret-0123456789",  # compose.yaml's old example
    DEV_JWT_SECRET,
    DEV_SECRET_KEY,
]


@pytest.mark.parametrize("setting", ["jwt_secret", "secret_key"])
@pytest.mark.parametrize("weak", WEAK_SECRETS)
def test_production_refuses_a_weak_secret_and_says_how_to_make_one(setting, weak):
    chosen = {"jwt_secret": STRONG, "secret_key": STRONG[::-1], setting: weak}
    settings = Settings(environment="production", database_url="postgres://db/c", **chosen)
    with pytest.raises(ConfigurationError) as caught:
        settings.check()
    message = str(caught.value)
    assert setting.upper() in message
    assert ("JWT_SECRET" in message) == (setting == "jwt_secret")
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message


def test_production_accepts_generated_secrets():
    for _ in range(300):
        for secret in (
            secrets.token_urlsafe(48),
            secrets.token_urlsafe(24),
            secrets.token_hex(32),
            base64.b64encode(secrets.token_bytes(32)).decode(),
        ):
            Settings(
                environment="production",
                database_url="postgres://db/c",
                jwt_secret=secret,
                secret_key=STRONG,
            ).check()


def test_credits_serve_refuses_weak_secrets_by_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={
            "ENVIRONMENT": "production",
            "DATABASE_URL": "postgres://127.0.0.1:1/none",
            "JWT_SECRET": "x",
            "SECRET_KEY": "y",
            "PATH": "",
            "PYTHONPATH": str(__import__("pathlib").Path(__file__).parent.parent),
        },
        timeout=60,
    )
    assert result.returncode == 2
    assert "JWT_SECRET" in result.stderr and "SECRET_KEY" in result.stderr
    assert "secrets.token_urlsafe(48)" in result.stderr
