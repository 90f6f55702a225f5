"""The owner portal in a real browser (issue 15, item 3).

`credits serve` on a fresh PostgreSQL database serves the built portal (`make portal`);
portal/e2e/approve-live.mjs drives it in Debian's headless Chromium with playwright-core:
the owner signs in with a pasted token, a learner's request made through the API appears
without a reload, the owner approves it, the balance changes; a second request is denied;
the history exports.

Runs on PostgreSQL only. Without the portal's build, Chromium or Node it is skipped,
unless PORTAL_E2E=1 (CI, `make portal-test`) makes those missing pieces a failure.
PORTAL_SCREENSHOT names where the screenshot goes (docs/portal.png to refresh the
README's; a temporary file otherwise).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.databases import postgres_url, scratch_database
from tests.helpers import buy, create_account, make_client, redeem, upsert_course
from tests.live import free_port, stopped_after, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "portal" / "e2e" / "approve-live.mjs"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("PORTAL_E2E") == "1"


def missing_pieces() -> list[str]:
    pieces = {
        "the portal's build (make portal)": (ROOT / "static" / "portal" / "index.html").is_file(),
        "portal/node_modules (npm ci in portal/)": (
            ROOT / "portal" / "node_modules" / "playwright-core"
        ).is_dir(),
        "node": shutil.which("node") is not None,
        f"Chromium at {CHROMIUM} (apt-get install chromium)": Path(CHROMIUM).is_file(),
    }
    return [name for name, present in pieces.items() if not present]


@pytest.fixture
def portal_server(tmp_path: Path) -> Iterator[str]:
    """`credits serve` alone (relay and workers embedded) on a database of its own."""
    base_url = postgres_url()
    if base_url is None:
        pytest.skip("the browser test runs on PostgreSQL (set DATABASE_URL)")
    missing = missing_pieces()
    if missing:
        message = "the browser test needs " + ", ".join(missing)
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with scratch_database(base_url, "credits_portal") as db:
        env = {
            **{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
            "DATABASE_URL": db,
            "PUBLIC_URL": base,
            "PORTAL_URL": f"{base}/portal",
            "MAIL_DIR": str(tmp_path / "mail"),
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        with stopped_after(process):
            wait_until_ready(base, process, log_path, within=60)
            yield base


@pytest.fixture
def screenshot(tmp_path: Path) -> Path:
    return Path(os.environ.get("PORTAL_SCREENSHOT") or tmp_path / "portal.png").resolve()


async def test_a_request_appears_live_and_the_owner_approves_it(
    portal_server: str, screenshot: Path
) -> None:
    base = portal_server
    owner = make_client(email="ann@example.com", name="Ann Owner", base_url=base)
    support = make_client(email="sam@example.com", name="Sam Support", support=True, base_url=base)
    learner = make_client(email="lee@example.com", name="Lee Learner", base_url=base)

    account = await create_account(owner, name="Data team", approvalMode="MANUAL")
    assert (await buy(owner, 1000, "portal-1"))["errors"] == []
    assert (await buy(owner, 500, "portal-2"))["errors"] == []
    jira = await upsert_course(support, "JIRA-101", "Jira Fundamentals", 150)
    git = await upsert_course(support, "GIT-201", "Git in Depth", 120)
    earlier = await redeem(learner, account["redemptionCode"], git["id"], "earlier")
    approved = await owner.mutate(
        "approveRedemptions",
        "mutation($ids: [ID!]!) { approveRedemptions(input: {ids: $ids}) { errors { code } } }",
        {"ids": [earlier["redemption"]["id"]]},
    )
    assert approved["errors"] == []

    env = {
        **os.environ,
        "PORTAL_BASE": base,
        "OWNER_TOKEN": str(owner.token),
        "LEARNER_TOKEN": str(learner.token),
        "REDEMPTION_CODE": account["redemptionCode"],
        "COURSE_ID": jira["id"],
        "SECOND_COURSE_ID": git["id"],
        "EXPECT_AVAILABLE": str(1500 - 120),
        "SCREENSHOT": str(screenshot),
        "CHROMIUM": CHROMIUM,
        "EXPECT_LIVE": "1",  # subscriptions over the WebSocket, not the polling fallback
    }
    run = await asyncio.to_thread(
        subprocess.run,
        ["node", str(SCRIPT)],
        cwd=ROOT / "portal",
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = run.stdout.strip().splitlines()
    assert run.returncode == 0 and lines, f"{run.stdout}\n{run.stderr}"
    seen = json.loads(lines[-1])
    print("portal e2e:", seen, "screenshot:", screenshot)
    assert seen["ok"] is True
    assert seen["mode"] == "live"
    assert seen["balanceAfter"] == 1500 - 120 - 150
    assert seen["denied"] is True
    assert seen["reloads"] == 0
    assert seen["screenshotBytes"] > 10_000
