"""Small helpers for tests that run the installed command line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def mockinterview_command() -> list[str]:
    """The installed entry point (what a user runs); fall back to `python -m bot` only if it is missing."""
    beside_python = Path(sys.executable).with_name("mockinterview")
    executable = str(beside_python) if beside_python.exists() else shutil.which("mockinterview")
    if executable is None:
        pytest.fail("the mockinterview entry point is not installed; run pip install -e '.[test]'")
    return [executable]


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*mockinterview_command(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def run_module(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
