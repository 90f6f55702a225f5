"""Rules about the code itself, checked on its syntax tree.

- No `assert` outside tests and benchmarks: `python -O` strips them, so an assert that
  guards anything is control flow that vanishes in production (issue 11).
- Ledger entries are written by `ledger/entries.py` only: one writer, so that every
  change of credits is recorded the same way.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = {"tests", "bench", "node_modules"}


def _sources() -> list[Path]:
    return [
        path
        for path in sorted(ROOT.rglob("*.py"))
        if not ({*path.relative_to(ROOT).parts[:-1]} & SKIPPED)
        and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    ]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def test_the_sources_are_found():
    names = {str(path.relative_to(ROOT)) for path in _sources()}
    assert {"app.py", "ledger/entries.py", "graph/types.py", "workers/jobs.py"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_no_assert_outside_tests_and_benchmarks():
    found = [
        _where(path, node)
        for path in _sources()
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Assert)
    ]
    assert found == []


def _writes_ledger_entries(node: ast.AST) -> bool:
    """`LedgerEntry.create(...)`, `.bulk_create(...)`, `LedgerEntry(...)` or SQL that
    inserts into ledger_entry."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id == "LedgerEntry":
            return True
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "LedgerEntry"
            and func.attr in {"create", "bulk_create", "get_or_create", "update_or_create"}
        ):
            return True
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return "insert into ledger_entry" in " ".join(node.value.lower().split())
    return False


def test_ledger_entries_have_one_writer():
    writers = {
        str(path.relative_to(ROOT))
        for path in _sources()
        if "migrations" not in path.parts
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if _writes_ledger_entries(node)
    }
    assert writers == {"ledger/entries.py"}
