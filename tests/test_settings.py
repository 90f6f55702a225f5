import subprocess
import sys

import pytest

from settings import DEV_JWT_SECRET, ConfigurationError, Settings


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
        secret_key="a-private-value",
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
