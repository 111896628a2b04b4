"""The core never imports an adapter's library: discord, openai, sqlalchemy, aiosqlite or asyncpg."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bot.core

FORBIDDEN = {"discord", "openai", "sqlalchemy", "aiosqlite", "asyncpg", "alembic", "onnxruntime"}
CORE_FILES = sorted(Path(bot.core.__file__).parent.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_module_imports_no_adapter_library(path):
    assert imported_roots(path) & FORBIDDEN == set()


def test_core_modules_do_not_import_adapters_of_this_project():
    for path in CORE_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("bot.discord_app", "bot.storage", "bot.llm", "bot.terminal")), (
                    f"{path.name} imports {node.module}"
                )


def test_the_walker_detects_a_forbidden_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom sqlalchemy import select\n")
    assert "sqlalchemy" in imported_roots(sample)
