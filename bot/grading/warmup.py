"""Warm the offline grader once a process is ready (the bot after READY, a worker at start), so the first grade
doesn't pay the model load (~0.4 s).

Only what is cheap is warmed: loading the embedding model and one tiny encode (onnxruntime's first run allocates).
The rubrics' texts stay lazy (the encoder caches each as its first answer is graded): warming the whole bank takes
~100 s of CPU, which would compete with real grading for no user-visible gain. The work runs in a daemon thread
at the lowest scheduling priority where the OS allows it, so it never delays the event loop or a grade; a grade
that arrives mid-load waits only for the rest of the load (the grader's load lock), never for a queue of warm-up
work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

from bot.grading.offline import OfflineGrader

log = logging.getLogger(__name__)
WARM_UP_JOIN_S = 30.0  # loading the offline model takes ~0.4 s; this is only a bound


def offline_grader_of(grader: object) -> OfflineGrader | None:
    """The offline grader inside `grader`: itself, or the fallback of the LLM grader (through metering wrappers)."""
    seen: set[int] = set()
    current: Any = grader
    while current is not None and id(current) not in seen:
        if isinstance(current, OfflineGrader):
            return current
        seen.add(id(current))
        current = getattr(current, "_offline", None) or getattr(current, "_grader", None)
    return None


def _lower_priority() -> None:
    """Lowest CPU priority for this thread (Linux: `setpriority` on the thread id affects only this thread)."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed: normal priority is fine too
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def warm_up(grader: OfflineGrader) -> float:
    """Load the model and run one tiny encode; returns the seconds it took."""
    _lower_priority()
    started = time.perf_counter()
    grader.encoder.encode(["warm up"])
    return time.perf_counter() - started


def start_warm_up(grader: object) -> threading.Thread | None:
    """Warm the offline grader inside `grader` (if any) in a background daemon thread; returns the thread."""
    offline = offline_grader_of(grader)
    if offline is None:
        return None

    def run() -> None:
        try:
            log.info("offline grader warmed up in %.2fs", warm_up(offline))
        except Exception:  # grading loads it again on first use and reports a real problem there
            log.warning("warming up the offline grader failed", exc_info=True)

    thread = threading.Thread(target=run, name="offline-grader-warm-up", daemon=True)
    thread.start()
    return thread


async def finish_warm_up(thread: threading.Thread | None) -> None:
    """Wait for a warm-up still loading before the process exits: a model load can't be interrupted, and the
    interpreter must not exit under it (onnxruntime aborts)."""
    if thread is not None and thread.is_alive():
        await asyncio.to_thread(thread.join, WARM_UP_JOIN_S)


@contextlib.asynccontextmanager
async def warming_up(grader: object) -> AsyncIterator[None]:
    """Warm the offline grader inside `grader` in the background while the block runs (a worker's life); on the way
    out, wait for a load still in progress."""
    thread = start_warm_up(grader)
    try:
        yield
    finally:
        await finish_warm_up(thread)
