"""Helpers for tests that run `mockinterview worker` as a real subprocess (not a test module)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.models import AnswerSubmission
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.tables import attempts, grading_jobs
from tests.helpers import mockinterview_command

QUESTION_ID = "gans.mode-collapse"
ANSWER = (
    "Mode collapse is when the generator produces a narrow set of outputs instead of covering the data "
    "distribution, because a few outputs already fool the discriminator. Minibatch discrimination and a "
    "Wasserstein loss with gradient penalty reduce it. (answer #{n}#)"
)


async def submit(engine: AsyncEngine, n: int, *, user_id: int = 4242, question_id: str = QUESTION_ID) -> list[int]:
    stored = await SqlAttemptRepository(engine).submit_answers(
        [
            AnswerSubmission(
                user_id=user_id, question_id=question_id, topic=question_id.split(".")[0], answer=ANSWER.format(n=i)
            )
            for i in range(n)
        ]
    )
    return [a.id for a in stored]


class WorkerProcess:
    """`mockinterview worker ...` with its output in files (a pipe nobody reads could block it)."""

    def __init__(self, env: dict[str, str], tmp: Path, *args: str, name: str = "worker") -> None:
        self.stdout_path = tmp / f"{name}.out"
        self.stderr_path = tmp / f"{name}.err"
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = subprocess.Popen([*mockinterview_command(), "worker", *args], env=env, stdout=out, stderr=err)

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    async def wait(self, seconds: float) -> int:
        return await asyncio.to_thread(self.proc.wait, seconds)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def wait_until(
    check: Callable[[], Awaitable[bool] | bool], seconds: float, what: str, proc: WorkerProcess | None = None
) -> None:
    deadline = time.monotonic() + seconds
    while True:
        outcome = check()
        if not isinstance(outcome, bool):
            outcome = await outcome
        if outcome:
            return
        if proc is not None and proc.proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.proc.returncode}) before {what}:\n{proc.stderr[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


async def jobs(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(grading_jobs).order_by(grading_jobs.c.attempt_id))).all())


async def attempt_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(attempts).order_by(attempts.c.id))).all())
