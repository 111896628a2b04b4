"""`mockinterview run` on SIGTERM, against the loopback Discord: it stops taking grading work, lets the answers in
hand finish (and delivers their feedback) or hands them back to the queue, and exits 0 within its timeout."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.discord_app._run_process import (
    BotProcess,
    answer_practice,
    attempt_rows,
    feedback_followups,
    run_env,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer, Reply

pytestmark = pytest.mark.slow


@pytest.fixture
async def llm():
    async with FakeOpenAIServer() as server:
        yield server


async def _two_answers_in_flight(fake: FakeDiscord, llm: FakeOpenAIServer):
    users = [fake.make_user(f"deploy-{i}") for i in range(2)]
    submits = await asyncio.gather(
        *(
            answer_practice(fake, user, f"Mode collapse means the generator covers few modes ({i}).")
            for i, user in enumerate(users)
        )
    )
    await fake.wait_until(lambda: llm.in_flight == 2, 30, "two grading requests in flight")
    return submits


async def test_sigterm_lets_grading_in_hand_finish_delivers_its_feedback_and_exits_0(
    fake: FakeDiscord, llm: FakeOpenAIServer, cli_env, database_url, tmp_path
) -> None:
    llm.default = Reply("slow", delay_s=1.5)
    bot = await BotProcess(run_env(cli_env, fake, llm, MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S="20"), tmp_path).start(fake)
    try:
        submits = await _two_answers_in_flight(fake, llm)
        requests = len(llm.requests)
        started = time.monotonic()
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0, bot.stderr[-3000:]
        elapsed = time.monotonic() - started
    finally:
        await bot.kill()
    assert elapsed < 15, f"shutdown took {elapsed:.1f}s although grading needed 1.5s"
    assert len(llm.requests) == requests  # it claimed nothing new after the signal
    rows = await attempt_rows(database_url)
    assert [(r.status, r.job_statuses, r.delivery_status) for r in rows] == [("graded", ("done",), "delivered")] * 2
    assert [len(feedback_followups(s)) for s in submits] == [1, 1]  # delivered before the connection closed
    assert "Traceback" not in bot.stderr


async def test_sigterm_releases_grading_that_outlives_the_timeout_and_exits_0(
    fake: FakeDiscord, llm: FakeOpenAIServer, cli_env, database_url, tmp_path
) -> None:
    llm.default = Reply("slow", delay_s=120)
    env = run_env(cli_env, fake, llm, MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S="2")
    bot = await BotProcess(env, tmp_path).start(fake)
    try:
        submits = await _two_answers_in_flight(fake, llm)
        leased = await attempt_rows(database_url)
        assert all(r.job_statuses == ("leased",) and r.lease_owners[0] for r in leased)
        started = time.monotonic()
        bot.signal(signal.SIGTERM)
        assert await bot.wait(30) == 0, bot.stderr[-3000:]
        elapsed = time.monotonic() - started
    finally:
        await bot.kill()
    assert elapsed < 2 + 8, f"shutdown took {elapsed:.1f}s with a 2s timeout"
    rows = await attempt_rows(database_url)
    # Handed back at once (not left to the 5-minute lease): the next process grades them immediately.
    assert [(r.status, r.job_statuses, r.lease_owners) for r in rows] == [("pending", ("queued",), (None,))] * 2
    assert [r.job_tries for r in rows] == [(0,), (0,)]  # the interrupted try is not counted against the answer
    assert not any(feedback_followups(s) for s in submits)
    assert "released 2 unfinished grading jobs" in bot.stderr
    assert "Traceback" not in bot.stderr
