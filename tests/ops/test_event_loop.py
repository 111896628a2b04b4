"""`run` and `worker` run on uvloop where it is installed, and on asyncio's own loop where it isn't."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot.cli._loop import run_event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not a dependency on Windows")
def test_long_running_commands_use_uvloop_when_it_is_installed() -> None:
    assert run_event_loop(_loop_module()).startswith("uvloop")


def test_without_uvloop_the_standard_loop_runs_the_same_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now raises ImportError
    assert run_event_loop(_loop_module()).startswith("asyncio")
