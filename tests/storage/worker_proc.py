"""A grading worker process for the multi-process tests (not a test module).

usage: python worker_proc.py URL WORKER_ID LOG [--hang] [--lease S] [--go FILE]

Waits for the --go file (so several processes start together), then grades with a deterministic fake grader,
appending "graded <attempt id>" to LOG for every grade call, until the queue is idle. With --hang the grader
writes "claimed <attempt id>" and blocks forever, holding its lease until the process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

from bot.core.models import GradeResult, Rubric
from bot.pipeline import GradingWorker
from bot.storage.engine import create_engine
from bot.storage.queue import SqlGradingQueue


def _log(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())  # one write() per line: appends from processes never interleave
    finally:
        os.close(fd)


class ProcessGrader:
    name = "proc"

    def __init__(self, log: Path, worker_id: str, *, hang: bool) -> None:
        self.log, self.worker_id, self.hang = log, worker_id, hang

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        attempt_id = answer.split("#")[1]
        if self.hang:
            _log(self.log, f"claimed {attempt_id}")
            await asyncio.Event().wait()
        _log(self.log, f"graded {attempt_id} {self.worker_id}")
        await asyncio.sleep(0.02)  # 300 jobs take both processes over a second: neither can drain them alone
        return GradeResult(score=float(len(answer) % 11), grader="proc", model=self.worker_id)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("worker_id")
    parser.add_argument("log", type=Path)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--lease", type=float, default=30.0)
    parser.add_argument("--go", type=Path)
    args = parser.parse_args()
    if args.go is not None:
        (args.go.parent / f"ready-{args.worker_id}").touch()  # imports done: the test starts both together
    while args.go is not None and not args.go.exists():
        time.sleep(0.01)  # noqa: ASYNC251 - nothing else runs yet
    engine = create_engine(args.url)
    try:
        worker = GradingWorker(
            SqlGradingQueue(engine),
            ProcessGrader(args.log, args.worker_id, hang=args.hang),
            lambda attempt: Rubric(question="q?", reference_answer="r"),
            worker_id=args.worker_id,
            concurrency=1 if args.hang else 4,
            lease_seconds=args.lease,
            poll_interval=0.05,
        )
        await worker.run(until_idle=True)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
