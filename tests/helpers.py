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


def run_cli_in_process(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The same command line, run by the same `app` inside the test process: no interpreter start-up and imports
    (~1.5 s a run). Only for what needs no process of its own (help pages); the subprocess runs keep the entry
    point, exit codes and signals covered."""
    from typer.testing import CliRunner

    from bot.cli import app

    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def run_module(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
