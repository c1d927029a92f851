"""The package layout as a contract: imports follow the data one way, and nothing imports in a
circle, not even inside a function. Read from the source (ast), so an import hidden in a function
counts as much as one at the top.

    infra  <-  ingest  <-  model  <-  training
                              ^
                              +--  serving  <-  api
    pipeline (the top) may import any of them; nothing imports pipeline.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("infra", "ingest", "model", "training", "serving", "api", "pipeline")
# What each package may import besides itself.
ALLOWED = {
    "infra": set(),
    "ingest": {"infra"},
    "model": {"infra", "ingest"},
    "training": {"infra", "ingest", "model"},
    "serving": {"infra", "ingest", "model"},
    "api": {"infra", "ingest", "model", "serving"},
    "pipeline": {"infra", "ingest", "model", "training", "serving", "api"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for package in PACKAGES
        for p in (REPO / package).rglob("*.py")
        if p.name != "gunicorn.conf.py"
    }


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `path` imports anywhere in its body (TYPE_CHECKING blocks excepted)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from a import b` imports the module a.b when there is one, else names of module a
            # (a package's own __init__ is not counted as imported by its submodules' imports).
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                for alias in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_packages_import_only_what_lies_below_them(graph: dict[str, set[str]]):
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if target.split(".")[0] != module.split(".")[0]
        and target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    )
    assert wrong == []


def test_no_import_cycles(graph: dict[str, set[str]]):
    def cycle_from(start: str) -> list[str] | None:
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    return [*path, start]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    cycles = [" -> ".join(c) for c in (cycle_from(m) for m in sorted(graph)) if c]
    assert cycles == []
