"""One entry point for the long-running commands' event loop: uvloop where it is installed, asyncio otherwise.

uvloop (libuv) runs the same asyncio code with less CPU per socket event and per callback, which is most of what
a busy bot does between database and HTTP calls (benchmarks/README.md). It is a dependency on Linux and macOS; on
Windows, where it doesn't exist, the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # Windows, or an install without it
        return asyncio.run(main)
    return uvloop.run(main)
