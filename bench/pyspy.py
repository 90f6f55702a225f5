"""Where a server's CPU goes, sampled with py-spy (`pip install py-spy`) while it is loaded.

`record` samples a process for a while (non-blocking, so the process is not paused);
`summarise` reads the collapsed stacks and answers the share of the samples (py-spy
samples running code only, so this is a share of CPU) spent under each part of the
request path, and the leaf frames' packages (self time).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bench import report

PROFILES = report.RESULTS / "profiles"
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*):\d+\)$")

# Exclusive: a sample counts for the innermost layer on its stack (checked leaf first).
LAYERS = [
    ("asyncpg driver", ("asyncpg/",)),
    ("pypika SQL text", ("pypika_tortoise/", "pypika/")),
    ("Tortoise ORM", ("tortoise/",)),
    (
        "GraphQL validation",
        ("graphql/validation/", "graphql/utilities/", "graphql/language/visitor"),
    ),
    ("GraphQL parse", ("graphql/language/",)),
    ("graphql-core execution", ("graphql/",)),
    ("Strawberry HTTP view", ("strawberry/http/", "strawberry/asgi/")),
    ("Strawberry schema glue", ("strawberry/",)),
    ("PyJWT", ("jwt/",)),
    ("logging", ("logging/", "structlog/")),
    ("JSON", ("json/",)),
    ("project code", ("ledger/", "resolvers/", "schema/", "app.py", "observability.py")),
    ("Starlette", ("starlette/",)),
    ("uvicorn + httptools", ("uvicorn/", "httptools")),
    ("event loop", ("asyncio/", "uvloop/", "selectors.py")),
]
# Inclusive: a sample counts for every hot spot whose frame is on its stack.
HOT_SPOTS = {
    "validation (whole step)": ("validation_cache.py:ValidationCache.on_validate",),
    "sign_in (user by sub)": ("ledger/users.py:sign_in",),
    "get_context (token)": ("get_context",),
    "pool release (reset query)": ("Connection.reset",),
    "DataLoaders": ("strawberry/dataloader.py",),
}


def raw_path(scenario: str, round_: int) -> Path:
    return PROFILES / f"api-{scenario}-{round_}.txt"


def raw_paths(scenario: str, rounds: int) -> list[Path]:
    return [raw_path(scenario, r) for r in range(rounds)]


def record(pid: int, warmup: float, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Sample `pid` for a whole round (warm-up included: the same load, more samples)."""
    binary = shutil.which("py-spy") or shutil.which("py-spy", path=Path(sys.executable).parent)
    if binary is None:
        raise RuntimeError("--profile needs py-spy: pip install py-spy")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [
        binary, "record", "--pid", str(pid), "--rate", "250", "--nonblocking",
        "--format", "raw", "--duration", str(math.ceil(warmup + seconds)), "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _stacks(paths: Iterable[Path]) -> Iterable[tuple[list[str], int]]:
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                yield stack.split(";"), int(count)


def _label(frame: str) -> str:
    """`file:function` with the file relative to site-packages or the project."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"].split("site-packages/")[-1].split("/work/main/")[-1]
    file = re.sub(r"^.*/lib/python3\.\d+/", "", file)
    return f"{file}:{match['function']}"


def _layer(labels: list[str]) -> str:
    for label in reversed(labels):
        for layer, needles in LAYERS:
            if label.startswith(needles) or any(f"/{n}" in label for n in needles):
                return layer
    return "other"


def summarise(paths: Iterable[Path]) -> dict[str, float]:
    """Shares of the samples: `layer:` innermost layer (sums to 1), `in:` hot spots."""
    layers: Counter[str] = Counter()
    spots: Counter[str] = Counter()
    total = 0
    for stack, count in _stacks(paths):
        labels = [_label(frame) for frame in stack]
        total += count
        layers[_layer(labels)] += count
        for spot, needles in HOT_SPOTS.items():
            if any(needle in label for label in labels for needle in needles):
                spots[spot] += count
    if not total:
        return {}
    shares = {f"layer:{name}": n / total for name, n in layers.most_common()}
    shares.update({f"in:{spot}": spots[spot] / total for spot in HOT_SPOTS})
    return {"samples": float(total), **shares}
