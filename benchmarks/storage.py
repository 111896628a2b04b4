"""Storage benchmarks on SQLite and PostgreSQL.

    python -m benchmarks.storage [--json] [--quick] [--engine sqlite|postgres|both]

* `history_p50_ms`: one page (20, newest first) of the history of a user with 10,000 attempts (target <= 5 ms).
* `leaderboard_ms`: this week's leaderboard of a guild with 1,000,000 attempts over a year (target <= 100 ms).
* `submit_per_s`: answers stored with their grading job through `submit_answers` in batches of 100
  (target >= 1,000/s on SQLite); `submit_single_per_s` is `submit_answer` one by one from 50 concurrent tasks.

PostgreSQL comes from `MOCKINTERVIEW_BENCH_POSTGRES_URL` or `MOCKINTERVIEW_TEST_POSTGRES_URL`; the benchmark
creates (and drops) a database of its own. `--quick` uses small data (seconds, for CI): its figures only
show that the code runs, not the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bot.core.models import AnswerSubmission, GradeResult, KeyPointResult, LeaderboardPeriod, Verdict
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.progress import SqlProgressRepository

NOW = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)  # a Sunday evening: the week is full
GUILD = 4242
HISTORY_USER = 999_999
COLUMNS = (
    "user_id", "guild_id", "question_id", "topic", "kind", "answer", "status", "score", "grade",
    "hints_used", "delivery_status", "delivery_tries", "created_at", "graded_at",
)  # fmt: skip
SAMPLE_GRADE = GradeResult(
    score=7.0,
    key_points=[KeyPointResult(key_point=f"point {i}", verdict=Verdict.COVERED, evidence="...") for i in range(4)],
    strengths=["clear"],
    improvements=["mention trade-offs"],
    grader="offline",
    model="minilm",
    prompt_version="v1",
).model_dump(mode="json")


def postgres_url() -> str | None:
    return os.environ.get("MOCKINTERVIEW_BENCH_POSTGRES_URL") or os.environ.get("MOCKINTERVIEW_TEST_POSTGRES_URL")


def _rows(
    n: int, *, users: int, user_offset: int, guild: int | None, days: int, seed: int, grade: bool
) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    span = days * 86400
    answer = "an answer of a few words " * 8 if grade else "short"  # the board's bulk rows stay small
    rows = []
    for _ in range(n):
        created = NOW - timedelta(seconds=rng.random() * span)
        score = float(rng.randint(0, 10))
        rows.append((
            user_offset + rng.randrange(users), guild, f"topic{rng.randrange(12)}.q{rng.randrange(300)}",
            f"topic{rng.randrange(12)}", "answer", answer, "graded", score,
            SAMPLE_GRADE if grade else None, 0, "none", 0, created, created,
        ))  # fmt: skip
    return rows


async def _bulk_load(url: str, rows: list[tuple[Any, ...]], user_ids: list[int]) -> None:
    """Fast loading outside the repositories: COPY on PostgreSQL, executemany on SQLite."""
    if make_url(url).get_backend_name() == "sqlite":
        await asyncio.to_thread(_sqlite_load, make_url(url).database or "", rows, user_ids)
        return
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO users (id, timezone, settings, created_at) VALUES ($1, 'UTC', '{}', $2)"
            " ON CONFLICT DO NOTHING",
            [(u, NOW) for u in user_ids],
        )
        records = [(*r[:8], json.dumps(r[8]) if r[8] is not None else None, *r[9:]) for r in rows]
        await connection.copy_records_to_table("attempts", records=records, columns=list(COLUMNS))
        await connection.execute("VACUUM ANALYZE attempts")
    finally:
        await connection.close()


def _sqlite_load(path: str, rows: list[tuple[Any, ...]], user_ids: list[int]) -> None:
    def stamp(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        with connection:
            connection.executemany(
                "INSERT OR IGNORE INTO users (id, timezone, settings, created_at) VALUES (?, 'UTC', '{}', ?)",
                [(u, stamp(NOW)) for u in user_ids],
            )
            connection.executemany(
                f"INSERT INTO attempts ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",  # noqa: S608
                (
                    (*r[:8], json.dumps(r[8]) if r[8] is not None else None, *r[9:12], stamp(r[12]), stamp(r[13]))
                    for r in rows
                ),
            )
        connection.execute("ANALYZE")
    finally:
        connection.close()


async def bench_engine(url: str, quick: bool) -> dict[str, float]:
    await upgrade_async(url)
    engine = create_engine(url, pool_size=20, max_overflow=10) if "postgresql" in url else create_engine(url)
    result: dict[str, float] = {}
    try:
        repo = SqlAttemptRepository(engine)

        # Submissions into the queue.
        n_batch = 1_000 if quick else 20_000
        subs = [
            AnswerSubmission(user_id=1 + i % 500, question_id=f"rag.q{i % 50}", topic="rag", answer=f"answer {i}")
            for i in range(n_batch)
        ]
        started = time.perf_counter()
        for i in range(0, n_batch, 100):
            await repo.submit_answers(subs[i : i + 100])
        result["submit_per_s"] = n_batch / (time.perf_counter() - started)

        n_single = 300 if quick else 3_000
        queue: asyncio.Queue[AnswerSubmission] = asyncio.Queue()
        for sub in subs[:n_single]:
            queue.put_nowait(sub)

        async def submitter() -> None:
            while not queue.empty():
                await repo.submit_answer(queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(submitter() for _ in range(50)))
        result["submit_single_per_s"] = n_single / (time.perf_counter() - started)

        # History of one user with 10,000 attempts, among other users' attempts.
        n_history = 2_000 if quick else 10_000
        history_rows = _rows(n_history, users=1, user_offset=HISTORY_USER, guild=None, days=365, seed=1, grade=True)
        noise = _rows(n_history, users=100, user_offset=10_000, guild=None, days=365, seed=2, grade=True)
        await _bulk_load(url, history_rows + noise, [HISTORY_USER, *range(10_000, 10_100)])
        timings = []
        for i in range(60 if quick else 300):
            started = time.perf_counter()
            page = await repo.history_page(HISTORY_USER, limit=20, topic="topic3" if i % 2 else None)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(page.attempts) == 20
        result["history_p50_ms"] = statistics.median(timings)
        deep_cursor = None
        for _ in range(20):  # 20 pages deep, then time one more page
            deep_cursor = (await repo.history_page(HISTORY_USER, limit=20, cursor=deep_cursor)).next_cursor
        started = time.perf_counter()
        await repo.history_page(HISTORY_USER, limit=20, cursor=deep_cursor)
        result["history_deep_page_ms"] = (time.perf_counter() - started) * 1000

        # Weekly leaderboard of a guild with 1,000,000 attempts over a year.
        n_board = 20_000 if quick else 1_000_000
        started = time.perf_counter()
        board_rows = _rows(n_board, users=2_000, user_offset=100_000, guild=GUILD, days=365, seed=3, grade=False)
        await _bulk_load(url, board_rows, list(range(100_000, 102_000)))
        result["load_rows_per_s"] = n_board / (time.perf_counter() - started)
        progress = SqlProgressRepository(engine)
        timings = []
        for _ in range(3 if quick else 7):
            started = time.perf_counter()
            board = await progress.leaderboard(GUILD, LeaderboardPeriod.WEEK, now=NOW, timezone="UTC", limit=10)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(board) == 10
        result["leaderboard_ms"] = statistics.median(timings)
        started = time.perf_counter()
        await progress.leaderboard(GUILD, LeaderboardPeriod.MONTH, now=NOW, timezone="UTC")
        result["leaderboard_month_ms"] = (time.perf_counter() - started) * 1000
    finally:
        await engine.dispose()
    return {key: round(value, 2) for key, value in result.items()}


async def _with_postgres(base: str, quick: bool) -> dict[str, float]:
    name = f"mi_bench_{uuid.uuid4().hex[:10]}"
    dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        return await bench_engine(make_url(base).set(database=name).render_as_string(hide_password=False), quick)
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def run(engines: list[str], quick: bool) -> dict[str, Any]:
    report: dict[str, Any] = {"quick": quick}
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as folder:
            report["sqlite"] = await bench_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", quick)
    if "postgres" in engines:
        base = postgres_url()
        if base is None:
            report["postgres"] = {"skipped": "set MOCKINTERVIEW_BENCH_POSTGRES_URL or MOCKINTERVIEW_TEST_POSTGRES_URL"}
        else:
            report["postgres"] = await _with_postgres(base, quick)
    return report


TARGETS = {"history_p50_ms": ("<=", 5.0), "leaderboard_ms": ("<=", 100.0), "submit_per_s": (">=", 1000.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="small data; finishes in seconds")
    parser.add_argument("--engine", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    engines = ["sqlite", "postgres"] if args.engine == "both" else [args.engine]
    report = asyncio.run(run(engines, args.quick))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for engine in engines:
        figures = report[engine]
        print(f"{engine}:")
        for key, value in figures.items():
            target = TARGETS.get(key)
            verdict = ""
            if target and isinstance(value, float | int):
                ok = value <= target[1] if target[0] == "<=" else value >= target[1]
                verdict = f"  (target {target[0]} {target[1]:g}: {'ok' if ok else 'MISSED'})"
            print(f"  {key:24} {value}{verdict}")
    if args.quick:
        print("(--quick: small data; the targets apply to the full run)", file=sys.stderr)


if __name__ == "__main__":
    main()
