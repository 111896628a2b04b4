"""Where the shipped data lives: inside the wheel (`bot/_data/`) or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def builtin_bank_dir() -> Path:
    return _data_dir("question_bank")


def prompts_dir() -> Path:
    return _data_dir("prompts")
