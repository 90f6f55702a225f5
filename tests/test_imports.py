"""The layering holds: no import cycle between modules, nothing imports upward, and
importing a package does no work (no broker, no schema, no database).

Layers, lowest first (a module may import its own layer's packages and lower ones):
settings ← models ← ledger, notifications ← auth, graph, workers ← resolvers ←
schema, observability ← downloads, compiled ← app ← cli. Imports inside functions count: a cycle
hidden in a function is still a cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS: list[set[str]] = [
    {"settings"},
    {"models"},
    {"ledger", "notifications"},
    {"auth", "graph", "workers"},
    {"resolvers"},
    {"schema", "observability"},
    {"downloads", "compiled"},
    {"app"},
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
PACKAGES = sorted(RANK)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in PACKAGES:
        if (ROOT / f"{name}.py").exists():
            found[name] = ROOT / f"{name}.py"
            continue
        for path in sorted((ROOT / name).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts).removesuffix(".__init__")
            found[module] = path
    return found


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """Import statements under `if TYPE_CHECKING:`: annotations only, never run."""
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(child for stmt in node.body for child in ast.walk(stmt))
    return skipped


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `module` imports when it runs, anywhere in its body."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree)

    def resolve(name: str) -> str:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    targets: set[str] = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            targets.update(resolve(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from package import submodule` runs the submodule; any other name
                # comes from the package (or module) itself.
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else resolve(base))
    targets.discard("")
    targets.discard(module)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {m: _imports(m, p, set(modules)) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_nothing_imports_upward():
    upward = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if RANK[target.split(".")[0]] > RANK[module.split(".")[0]]
    ]
    assert upward == []


@pytest.mark.parametrize("package", [p for p in PACKAGES if p != "cli"])
def test_importing_a_package_does_no_work(package):
    """Every module of the package imports in a fresh interpreter, and afterwards no
    dramatiq broker, GraphQL schema or database connection exists."""
    modules = [m for m in _modules() if m.split(".")[0] == package and m != "workers.worker"]
    probe = f"""
import importlib, sys
for name in {modules!r}:
    importlib.import_module(name)
import dramatiq.broker, tortoise
assert dramatiq.broker.global_broker is None, "a dramatiq broker was built"
assert not tortoise.Tortoise._inited, "Tortoise was initialised"
import gc, strawberry
built = [o for o in gc.get_objects() if isinstance(o, strawberry.Schema)]
assert not built, "a schema was built"
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
