"""Pipeline throughput: a burst of answers through the whole bot with an instant LLM.

    python -m benchmarks.pipeline [--json] [--quick] [--candidates N]

The same setup as `benchmarks.ack` (the real bot, `python -m bot run`, against the loopback Discord and the
loopback OpenAI server, SQLite), but the LLM answers at once, so the bot's own work is what limits the rate: per
answer, the modal submit (acknowledgement, session read, quota check, the answer saved with its grading job, the
"saved" followup), the grading job (claim, the LLM request with the offline guard alongside, the grade stored),
and the delivery (claim, session update, feedback rendered and sent, marked delivered).

* `answers_per_s`: answers from the first dispatch to the last feedback followup (target >= 200/s).
* `cpu_ms_per_answer`: the bot process's CPU time (all threads, from /proc) over that window / answers
  (target <= 5 ms).

The bot runs with the same concurrency settings as `benchmarks.ack`. `--quick`: 20 candidates (seconds, for CI).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from benchmarks._bot import running_bot
from benchmarks.ack import BOT_ENV, show

CANDIDATES = 500
TARGETS = {"answers_per_s": (">=", 200.0), "cpu_ms_per_answer": ("<=", 5.0)}


async def run(candidates: int) -> dict[str, Any]:
    async with running_bot(grader="llm", llm_latency_s=0.0, env=BOT_ENV) as bot:
        prepared = await bot.prepare(candidates)
        report = await bot.submit_all(prepared, feedback_timeout=150.0)
    elapsed = max(report.done_at - report.dispatched_at, 1e-9)
    delivered = report.feedback_delivered
    return {
        "candidates": candidates,
        "answers": report.answers,
        "feedback_delivered": delivered,
        "elapsed_s": round(elapsed, 2),
        "answers_per_s": round(delivered / elapsed, 1),
        "cpu_ms_per_answer": round(1000 * report.cpu_s / max(delivered, 1), 2),
        "ack_p99_ms": report.figures()["ack_p99_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="20 candidates; finishes in seconds")
    parser.add_argument("--candidates", type=int, default=None)
    args = parser.parse_args()
    candidates = args.candidates or (20 if args.quick else CANDIDATES)
    figures = asyncio.run(run(candidates))
    figures["quick"] = args.quick
    if args.json:
        print(json.dumps(figures))
        return
    print(f"pipeline: {candidates} answers at once, LLM latency 0")
    show(figures, TARGETS)
    if args.quick:
        print("(--quick: small burst; the targets apply to the full run)", file=sys.stderr)


if __name__ == "__main__":
    main()
