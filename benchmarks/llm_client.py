"""LLM grader CPU per request: `OpenAIGrader.grade` through the real `openai` client against the loopback server.

    python -m benchmarks.llm_client [--json] [--quick] [--requests N] [--concurrency N]

The loopback OpenAI server (`tests/fakes/openai_server.py`) runs in a child process and answers at once, so this
process's CPU time (`time.process_time()`) is the grader's own: prompt rendering, token counting, the SDK's request
building, the HTTP client and connection pool, and parsing and checking the reply. Answers cycle through the bank's
questions, a new answer each time; 200 grades warm the caches and the connection pool before the timed ones.

* `cpu_ms_per_request`: CPU time of the timed grades / grades (what `benchmarks.pipeline` pays per answer for the
  LLM path).
* `requests_per_s`: grades per second of wall time (one client process and one server process on 2 cores).

Defaults: 2,000 grades, 64 at once (`MOCKINTERVIEW_LLM_CONCURRENCY` of the bot benchmarks). `--quick`: 100.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator

from bot.core.models import Rubric
from bot.core.question_bank import load_bank
from bot.llm.factory import build_client
from bot.llm.grader import OpenAIGrader
from bot.resources import builtin_bank_dir
from bot.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer

WARM_UP = 200


async def serve() -> None:
    """The loopback server until standard input closes (the child process's half)."""
    async with FakeOpenAIServer() as server:
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def answers(count: int) -> list[tuple[Rubric, str]]:
    rubrics = [Rubric.from_question(question) for question in load_bank(builtin_bank_dir(), []).questions.values()]
    return [
        (rubric, f"{' '.join(rubric.key_points[: 1 + number % 3])} (answer {number})")
        for number, rubric in ((number, rubrics[number % len(rubrics)]) for number in range(count))
    ]


@contextlib.contextmanager
def loopback_server() -> Iterator[str]:
    """The base URL of the loopback server, run in a child process so its CPU time is not counted here."""
    with subprocess.Popen(
        [sys.executable, "-m", "benchmarks.llm_client", "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    ) as server:
        assert server.stdin is not None and server.stdout is not None
        try:
            yield f"http://127.0.0.1:{int(server.stdout.readline())}/v1"
        finally:
            server.stdin.close()


async def measure(base_url: str, requests: int, concurrency: int) -> dict[str, object]:
    settings = Settings(
        openai_api_key="sk-bench",
        openai_base_url=base_url,
        llm_concurrency=concurrency,
        llm_tokens_per_minute=100_000_000,  # no rate limit: the fake has none
    )
    client = build_client(settings)
    try:
        grader = OpenAIGrader(client, settings)
        work = answers(WARM_UP + requests)
        await asyncio.gather(*(grader.grade(rubric, answer) for rubric, answer in work[:WARM_UP]))
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(grader.grade(rubric, answer) for rubric, answer in work[WARM_UP:]))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await client.close()
    return {
        "requests": requests,
        "concurrency": concurrency,
        "cpu_ms_per_request": round(1000 * cpu / requests, 3),
        "requests_per_s": round(requests / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="100 grades; finishes in seconds")
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())
        return
    with loopback_server() as base_url:
        figures = asyncio.run(measure(base_url, args.requests or (100 if args.quick else 2_000), args.concurrency))
    figures["quick"] = args.quick
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>20}  {value}")


if __name__ == "__main__":
    main()
