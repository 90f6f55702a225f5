"""`credits serve` as an operator starts it: which client address the service sees."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from auth import mint_token
from settings import Settings
from tests.helpers import gid
from tests.live import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "Gx3pV8kqN2wZ5tYr7LmB4hJc9FdS6aQe1UoK0iXn"
COURSE = gid("Course", 1)
REDEEM = """mutation($code: String!, $course: ID!) {
  redeemCredits(input: {code: $code, courseId: $course, idempotencyKey: $code}) {
    errors { code }
  }
}"""


@contextmanager
def credits_serve(cwd: Path, **env: str) -> Iterator[str]:
    """`credits serve` in development (a SQLite file in `cwd`), at most 2 wrong codes per
    client address."""
    port = free_port()
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "CODE_ATTEMPTS_PER_ADDRESS": "2",
        "EMBEDDED_WORKERS": "false",
        "LOG_LEVEL": "WARNING",
        "JWT_SECRET": SECRET,
        **env,
    }
    command = [sys.executable, "-m", "cli", "serve", "--port", str(port)]
    process = subprocess.Popen(command, cwd=cwd, env=environment, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=15)


def _answers(base: str, forwarded_for: list[str]) -> list[str]:
    """Wrong codes from different users, each claiming another address."""
    answers = []
    for i, address in enumerate(forwarded_for):
        token = mint_token(
            email=f"u{i}@example.com", name=f"U{i}", settings=Settings(jwt_secret=SECRET)
        )
        response = httpx.post(
            f"{base}/graphql",
            json={
                "query": REDEEM,
                "variables": {"code": f"AAAA-BBBB-CCCC-{i:04d}", "course": COURSE},
            },
            headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": address},
        )
        answers.append(response.json()["data"]["redeemCredits"]["errors"][0]["code"])
    return answers


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path):
    claimed = ["203.0.113.1", "203.0.113.2", "203.0.113.3"]
    # By default no proxy is trusted: every request is from 127.0.0.1, whatever it claims.
    with credits_serve(tmp_path) as base:
        assert _answers(base, claimed) == ["INVALID_CODE", "INVALID_CODE", "RATE_LIMITED"]
    with credits_serve(tmp_path, FORWARDED_ALLOW_IPS="127.0.0.1") as base:
        assert _answers(base, claimed) == ["INVALID_CODE"] * 3
