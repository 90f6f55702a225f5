"""The README's "Try it" block runs word for word against a live server (only its
address is this test server's) and ends with the balance it promises."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _try_it() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```sh", readme.index("## Try it")) + len("```sh")
    return readme[start : readme.index("```", start)]


def test_the_try_it_block_works(server: str) -> None:
    script = _try_it().replace("http://127.0.0.1:8000", server)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answers = result.stdout.strip().splitlines()
    assert all('"errors"' not in line or '"errors":[]' in line for line in answers), answers
    assert '"amountCents":1600000' in answers[2]
    assert answers[-1] == '{"data":{"balance":{"available":19850,"pending":0}}}'
