"""Acknowledgement latency under a burst: 500 candidates submit their answers (modal submits) at once.

    python -m benchmarks.ack [--json] [--quick] [--candidates N] [--llm-latency S]

The real bot (`python -m bot run`, LLM grader, SQLite) runs against the loopback Discord and the loopback OpenAI
server, which takes 2 s per grade. Every candidate first starts `/practice` in their DM and presses Answer (not
timed); then all the modal submits are dispatched at once.

* `ack_p50_ms`, `ack_p99_ms`, `ack_max_ms`: from the fake dispatching INTERACTION_CREATE to it receiving the
  interaction callback (target: p99 <= 100 ms).
* `deadline_misses`: submits not acknowledged within Discord's 3 s (target 0).
* `feedback_delivered`: submits whose feedback followup arrived (target: all of them); `answers`: answers saved.
* `feedback_s`: from the burst to the last feedback (not a target; bounded by the grading concurrency).

The bot runs with `MOCKINTERVIEW_GRADING_CONCURRENCY=64` and `MOCKINTERVIEW_LLM_CONCURRENCY=64` (with the defaults
of 4 and 8, 500 two-second grades take over 2 minutes to drain; acknowledgement latency does not depend on it).
`--quick` uses 20 candidates (seconds, for CI): its figures only show that the code runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from benchmarks._bot import running_bot

CANDIDATES = 500
LLM_LATENCY_S = 2.0
BOT_ENV = {
    "MOCKINTERVIEW_GRADING_CONCURRENCY": "64",
    "MOCKINTERVIEW_LLM_CONCURRENCY": "64",
    "MOCKINTERVIEW_LLM_TOKENS_PER_MINUTE": "10000000",  # the fake has no rate limit; don't model OpenAI's here
    "MOCKINTERVIEW_DISCORD_COOLDOWN_RATE": "100",
}
TARGETS = {"ack_p99_ms": ("<=", 100.0), "deadline_misses": ("<=", 0)}


async def run(candidates: int, llm_latency_s: float) -> dict[str, Any]:
    extra = dict(item.split("=", 1) for item in os.environ.get("MOCKINTERVIEW_BENCH_BOT_ENV", "").split(",") if item)
    async with running_bot(grader="llm", llm_latency_s=llm_latency_s, env={**BOT_ENV, **extra}) as bot:
        prepared = await bot.prepare(candidates)
        report = await bot.submit_all(prepared, feedback_timeout=120.0)
    figures: dict[str, Any] = {"candidates": candidates, "llm_latency_s": llm_latency_s}
    figures.update(report.figures())
    figures["feedback_s"] = round(report.done_at - report.dispatched_at, 2)
    return figures


def show(figures: dict[str, Any], targets: dict[str, tuple[str, float]]) -> None:
    for key, value in figures.items():
        target = targets.get(key)
        verdict = ""
        if target and isinstance(value, int | float):
            ok = value <= target[1] if target[0] == "<=" else value >= target[1]
            verdict = f"  (target {target[0]} {target[1]:g}: {'ok' if ok else 'MISSED'})"
        print(f"  {key:22} {value}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="20 candidates; finishes in seconds")
    parser.add_argument("--candidates", type=int, default=None)
    parser.add_argument("--llm-latency", type=float, default=LLM_LATENCY_S, help="seconds per LLM grade")
    args = parser.parse_args()
    candidates = args.candidates or (20 if args.quick else CANDIDATES)
    figures = asyncio.run(run(candidates, args.llm_latency))
    figures["quick"] = args.quick
    if args.json:
        print(json.dumps(figures))
        return
    print(f"ack: {candidates} candidates submit at once (LLM latency {args.llm_latency:g} s)")
    show(figures, {**TARGETS, "feedback_delivered": (">=", candidates), "answers": (">=", candidates)})
    if args.quick:
        print("(--quick: small burst; the targets apply to the full run)", file=sys.stderr)


if __name__ == "__main__":
    main()
