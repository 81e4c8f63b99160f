"""Imports follow the flow (docs/ARCHITECTURE.md): checked on the source, so a shortcut fails here first."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each package may import from the others; `agent.cli` is the composition root and may import all.
ALLOWED = {
    "agent": {"agent"},
    "knowledge": {"agent", "knowledge"},
    "actions": {"agent", "knowledge", "actions"},
    "webhooks": {"agent", "knowledge", "actions", "webhooks"},
}
OURS = set(ALLOWED)


def imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_along_the_flow(package: str) -> None:
    wrong = []
    for path in modules(package):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("agent/cli/"):
            continue
        for name in imports(path):
            top = name.split(".")[0]
            if top in OURS and top not in ALLOWED[package]:
                wrong.append(f"{rel}: {name}")
            if name == "agent.cli" or name.startswith("agent.cli."):
                wrong.append(f"{rel}: {name} (only agent/cli imports the command line)")
    assert wrong == []
