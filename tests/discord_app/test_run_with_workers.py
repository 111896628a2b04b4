"""`mockinterview run` with `MOCKINTERVIEW_BOT_GRADING=false` beside a `mockinterview worker`: the bot grades
nothing, the worker grades, the bot delivers the feedback; /healthz, /metrics and SIGTERM still work.

On PostgreSQL both processes poll only every 30 s, so the feedback arriving within seconds means each was woken
by the other's NOTIFY (a queued answer wakes the worker, a stored grade wakes the bot's notifier).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discord_app._run_process import (
    API_KEY,
    AttemptRow,
    BotProcess,
    answer_practice,
    attempt_rows,
    feedback_followups,
    run_env,
    wait_for_rows,
)
from tests.discord_app.test_run_metrics import free_port, healthz, scrape, value
from tests.fakes.discord_server import FakeDiscord, FakeInteraction
from tests.fakes.openai_server import FakeOpenAIServer
from tests.ops._worker import WorkerProcess
from tests.storage.conftest import PG_ENV, create_pg_database, drop_pg_database, postgres_url

pytestmark = pytest.mark.slow

POLL_S = {"sqlite": 0.1, "postgres": 30.0}  # PostgreSQL: only a NOTIFY can make them quick


@pytest.fixture
async def llm():
    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield "sqlite", f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        return
    if postgres_url() is None:
        pytest.skip(f"the PostgreSQL half needs {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    url = create_pg_database()  # empty: the bot migrates it at start
    yield "postgres", url
    drop_pg_database(url)


async def _feedback(fake: FakeDiscord, submit: FakeInteraction, timeout: float) -> float:  # noqa: ASYNC109
    """Seconds until `submit`'s feedback followup arrived."""
    started = time.monotonic()
    await fake.wait_until(lambda: feedback_followups(submit), timeout, "the feedback")
    return time.monotonic() - started


def _outcomes(rows: list[AttemptRow]) -> list[tuple[str, tuple[str, ...], str]]:
    return [(r.status, r.job_statuses, r.delivery_status) for r in rows]


async def test_a_bot_that_does_not_grade_delivers_what_a_worker_process_grades(
    fake: FakeDiscord, llm: FakeOpenAIServer, cli_env, database: tuple[str, str], tmp_path: Path
) -> None:
    engine_name, url = database
    poll = str(POLL_S[engine_name])
    port = free_port()
    bot_env = run_env(
        cli_env,
        fake,
        llm,
        MOCKINTERVIEW_DATABASE_URL=url,
        MOCKINTERVIEW_BOT_GRADING="false",
        MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S=poll,
        MOCKINTERVIEW_METRICS_PORT=str(port),
    )
    worker_env = {
        **cli_env,
        "MOCKINTERVIEW_DATABASE_URL": url,
        "MOCKINTERVIEW_AUTO_MIGRATE": "false",  # the bot migrated it
        "MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S": poll,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": llm.base_url,
        "MOCKINTERVIEW_LLM_MAX_RETRIES": "0",
    }
    bot = await BotProcess(bot_env, tmp_path).start(fake)
    worker: WorkerProcess | None = None
    try:
        first = await answer_practice(fake, fake.make_user("alone"), "Mode collapse: the generator covers few modes.")
        await asyncio.sleep(1.5)  # fifteen polls on SQLite; on PostgreSQL the NOTIFY reached no grading loop
        [row] = await attempt_rows(url)
        assert (row.status, row.job_statuses, len(llm.requests)) == ("pending", ("queued",), 0)  # the bot graded none
        status, health = await healthz(port)
        assert status == 200 and health["bot_grading"] is False and health["queue"] == {"queued": 1}

        worker = WorkerProcess(worker_env, tmp_path, "--grader", "llm")
        await _feedback(fake, first, 60)  # the worker's first look finds it; the bot's notifier delivers it
        second = await answer_practice(fake, fake.make_user("later"), "Mode collapse: few modes, many latents.")
        waited = await _feedback(fake, second, 20)  # the worker was idle and the bot's notifier too
        assert waited < 10, f"the second feedback took {waited:.1f}s"

        # The followup reaches Discord before the notifier records it as delivered, so wait for the record.
        await wait_for_rows(
            url, lambda rows: _outcomes(rows) == [("graded", ("done",), "delivered")] * 2, 10, "both delivered"
        )
        assert len(llm.requests) == 2  # each graded once, by the worker
        samples = await scrape(port)
        assert value(samples, "mockinterview_grades_total", grader="llm") == 0  # not by the bot

        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0, bot.stderr[-3000:]
        worker.proc.send_signal(signal.SIGTERM)
        assert await worker.wait(30) == 0, worker.stderr[-3000:]
    finally:
        await bot.kill()
        if worker is not None:
            worker.kill()
    assert "Traceback" not in bot.stderr and "Traceback" not in worker.stderr
