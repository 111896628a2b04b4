"""Crash suite through the loopback Discord: `kill -9` the bot while it grades, restart it, and every answer is
graded once and its feedback delivered once.

The bot is the real `mockinterview run` subprocess; the LLM is the loopback OpenAI server, slowed down so the
answers are mid-grading (leased, requests in flight) at the moment of the kill.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.discord_app import conftest as discord_fixtures
from tests.discord_app._run_process import (
    BotProcess,
    answer_practice,
    attempt_rows,
    feedback_anywhere_else,
    feedback_followups,
    leases_expired,
    run_env,
    wait_for_rows,
)
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer, Reply

pytestmark = pytest.mark.slow
fake = discord_fixtures.fake  # the loopback Discord, as the Discord suite has it

N = 4
LEASE_S = 3


def _tag(messages: list[dict]) -> str | None:
    found = re.search(r"\(#(\d+)\)", next(m["content"] for m in messages if m["role"] == "user"))
    return f"#{found[1]}" if found else None


@pytest.fixture
async def llm():
    async with FakeOpenAIServer() as server:
        yield server


async def test_kill_9_mid_grading_then_restart_grades_and_delivers_each_answer_exactly_once(
    fake: FakeDiscord, llm: FakeOpenAIServer, cli_env: dict[str, str], database_url: str, tmp_path
) -> None:
    env = run_env(
        cli_env, fake, llm, MOCKINTERVIEW_GRADING_LEASE_S=str(LEASE_S), MOCKINTERVIEW_GRADING_CONCURRENCY=str(N)
    )
    llm.default = Reply("slow", delay_s=120)  # nothing finishes before the kill
    first = await BotProcess(env, tmp_path, "first").start(fake)
    try:
        users = [fake.make_user(f"crash-{i}") for i in range(N)]
        submits = await asyncio.gather(
            *(
                answer_practice(fake, user, f"Mode collapse: the generator covers few modes (#{i}).")
                for i, user in enumerate(users)
            )
        )
        await fake.wait_until(lambda: llm.in_flight == N, 30, f"{N} grading requests in flight")
        before = await attempt_rows(database_url)
        assert [r.status for r in before] == ["pending"] * N
        assert all(r.job_statuses == ("leased",) for r in before)
    finally:
        await first.kill()  # kill -9 in the middle of grading
    assert not any(feedback_followups(s) for s in submits)

    # The dead process's leases run out (nobody releases them), then a new process takes the jobs over.
    await wait_for_rows(database_url, leases_expired, LEASE_S + 10, "the dead process's leases to expire")
    llm.default = Reply()
    requests_before_restart = len(llm.requests)
    second = await BotProcess(env, tmp_path, "second").start(fake)
    try:
        delivered = await wait_for_rows(
            database_url, lambda rows: all(r.delivery_status == "delivered" for r in rows), 30, "every delivery"
        )
        await fake.wait_until(lambda: all(feedback_followups(s) for s in submits), 10, "feedback for every answer")
        await asyncio.sleep(0.5)  # a duplicate would be sent right after the first; give it the chance to show
    finally:
        await second.kill()

    assert len(delivered) == N  # no answer lost, none duplicated
    for row in delivered:
        assert row.status == "graded" and row.score is not None
        assert row.job_statuses == ("done",), row  # one job per answer, completed once
        assert row.delivered_at is not None
    assert [len(feedback_followups(s)) for s in submits] == [1] * N
    assert not feedback_anywhere_else(fake, submits)
    # Each answer was regraded after the restart (its request reached the LLM again).
    regraded = {_tag(r.messages) for r in llm.requests[requests_before_restart:]}
    assert regraded == {f"#{i}" for i in range(N)}
    assert "Traceback" not in second.stderr, second.stderr[-3000:]
