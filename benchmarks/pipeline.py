"""Pipeline throughput: a burst of answers through the whole bot with an instant LLM.

    python -m benchmarks.pipeline [--json] [--quick] [--candidates N] [--workers N] [--database sqlite|postgres]

The same setup as `benchmarks.ack` (the real bot, `python -m bot run`, against the loopback Discord and the
loopback OpenAI server), but the LLM answers at once, so our own processes' work is what limits the rate: per
answer, the modal submit (acknowledgement, session read, quota check, the answer saved with its grading job, the
"saved" followup), the grading job (claim, the LLM request with the offline guard alongside, the grade stored),
and the delivery (claim, session update, feedback rendered and sent, marked delivered).

* `answers_per_s`: answers from the first dispatch to the last feedback followup (target >= 200/s).
* `cpu_ms_per_answer`: the CPU time (all threads, from /proc) of all our processes over that window / answers
  (target <= 5 ms): the bot's (`bot_cpu_ms_per_answer`) plus the workers' (`worker_cpu_ms_per_answer`).

`--workers N` (default 0: the bot grades, as out of the box) runs the bot with `MOCKINTERVIEW_BOT_GRADING=false`
and N `mockinterview worker --grader llm` processes with the same database, LLM server and settings. `--database
postgres` uses a fresh database on `MOCKINTERVIEW_BENCH_POSTGRES_URL` / `MOCKINTERVIEW_TEST_POSTGRES_URL` (default
SQLite). The bot runs with the same concurrency settings as `benchmarks.ack`. `--quick`: 20 candidates (seconds,
for CI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from benchmarks._bot import Database, running_bot
from benchmarks.ack import BOT_ENV, show

CANDIDATES = 500
TARGETS = {"answers_per_s": (">=", 200.0), "cpu_ms_per_answer": ("<=", 5.0)}


async def run(candidates: int, *, workers: int = 0, database: Database = "sqlite") -> dict[str, Any]:
    async with running_bot(grader="llm", llm_latency_s=0.0, env=BOT_ENV, workers=workers, database=database) as bot:
        prepared = await bot.prepare(candidates)
        report = await bot.submit_all(prepared, feedback_timeout=150.0)
    elapsed = max(report.done_at - report.dispatched_at, 1e-9)
    delivered = report.feedback_delivered

    def per_answer(cpu_s: float) -> float:
        return round(1000 * cpu_s / max(delivered, 1), 2)

    return {
        "candidates": candidates,
        "workers": workers,
        "database": database,
        "answers": report.answers,
        "feedback_delivered": delivered,
        "elapsed_s": round(elapsed, 2),
        "answers_per_s": round(delivered / elapsed, 1),
        "cpu_ms_per_answer": per_answer(report.cpu_s + report.worker_cpu_s),
        "bot_cpu_ms_per_answer": per_answer(report.cpu_s),
        "worker_cpu_ms_per_answer": per_answer(report.worker_cpu_s),
        # The loopback Discord and OpenAI (this process): on 2 cores, what is left for our processes is 2 cores
        # minus this, which bounds answers/s whatever the split between the bot and its workers.
        "fake_cpu_ms_per_answer": per_answer(report.fake_cpu_s),
        "ack_p99_ms": report.figures()["ack_p99_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="20 candidates; finishes in seconds")
    parser.add_argument("--candidates", type=int, default=None)
    parser.add_argument(
        "--workers", type=int, default=0, help="grade in N `mockinterview worker` processes, not in the bot"
    )
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    candidates = args.candidates or (20 if args.quick else CANDIDATES)
    figures = asyncio.run(run(candidates, workers=args.workers, database=args.database))
    figures["quick"] = args.quick
    if args.json:
        print(json.dumps(figures))
        return
    graders = f"{args.workers} worker process(es)" if args.workers else "the bot"
    print(f"pipeline: {candidates} answers at once, LLM latency 0, graded by {graders}, {args.database}")
    show(figures, TARGETS)
    if args.quick:
        print("(--quick: small burst; the targets apply to the full run)", file=sys.stderr)


if __name__ == "__main__":
    main()
