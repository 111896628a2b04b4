"""Crash suite at the pipeline level: `mockinterview worker` killed with SIGKILL mid-grading, then restarted.

N answers are queued; the worker grades them with the LLM grader against the loopback OpenAI server (slowed down,
so some grades are in flight at the kill). After a restart every answer is graded exactly once: grades stored
before the kill are never redone, the jobs in flight are redone once (their lease expired), nothing else twice.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.ops._worker import WorkerProcess, attempt_rows, jobs, submit, wait_until

pytestmark = pytest.mark.slow

N = 24
LEASE_S = 4
_MARK = re.compile(r"answer #(\d+)#")


@pytest.fixture
async def fake_openai():
    async with FakeOpenAIServer() as server:
        yield server


def requests_per_answer(server: FakeOpenAIServer) -> dict[int, int]:
    counts: dict[int, int] = {}
    for request in server.requests:
        user = next((m["content"] for m in request.messages if m["role"] == "user"), "")
        match = _MARK.search(user)
        if match:
            counts[int(match[1])] = counts.get(int(match[1]), 0) + 1
    return counts


async def test_kill_9_mid_grading_then_restart_grades_every_answer_exactly_once(
    engine, db_url, fake_openai, cli_env, tmp_path
):
    fake_openai.default = Reply("slow", delay_s=0.5)
    ids = await submit(engine, N)
    index_of = {attempt_id: n for n, attempt_id in enumerate(ids)}
    env = {
        **cli_env,
        "MOCKINTERVIEW_DATABASE_URL": db_url,
        "MOCKINTERVIEW_AUTO_MIGRATE": "false",
        "OPENAI_API_KEY": "sk-crash-test",
        "OPENAI_BASE_URL": fake_openai.base_url,
        "MOCKINTERVIEW_GRADER": "llm",
        "MOCKINTERVIEW_LLM_TIMEOUT_S": "3",  # worst case 3 s x 1 try < the 4 s lease
        "MOCKINTERVIEW_LLM_MAX_RETRIES": "0",
        "MOCKINTERVIEW_GRADING_LEASE_S": str(LEASE_S),
        "MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S": "0.1",
        "MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S": "5",
    }
    first = WorkerProcess(env, tmp_path, "--concurrency", "3", "--worker-id", "victim", name="victim")
    try:

        async def some_graded_some_in_flight() -> bool:
            rows = await jobs(engine)
            return sum(j.status == "done" for j in rows) >= 6 and any(j.status == "leased" for j in rows)

        await wait_until(some_graded_some_in_flight, 120, "grading under way", first)
        os.kill(first.proc.pid, signal.SIGKILL)
        await first.wait(10)
    finally:
        first.kill()
    asked_at_kill = requests_per_answer(fake_openai)  # the victim is dead: nothing more arrives from it
    at_kill = {j.attempt_id: j for j in await jobs(engine)}
    graded_before = {r.id: (r.graded_at, r.grade) for r in await attempt_rows(engine) if r.status == "graded"}
    in_flight = {a for a, j in at_kill.items() if j.status == "leased"}
    assert (
        graded_before and in_flight and {j.lease_owner for j in at_kill.values() if j.status == "leased"} == {"victim"}
    )

    second = WorkerProcess(env, tmp_path, "--concurrency", "3", "--worker-id", "successor", name="successor")
    try:

        async def all_done() -> bool:
            return all(j.status == "done" for j in await jobs(engine))

        await wait_until(all_done, 120, "every job done after the restart", second)
        second.proc.send_signal(signal.SIGTERM)
        assert await second.wait(30) == 0, second.stderr[-3000:]
    finally:
        second.kill()

    rows = await attempt_rows(engine)
    final_jobs = {j.attempt_id: j for j in await jobs(engine)}
    assert [r.id for r in rows] == ids
    assert {(r.status, r.grader) for r in rows} == {("graded", "llm")}
    for attempt_id, (graded_at, grade) in graded_before.items():  # never graded again
        row = next(r for r in rows if r.id == attempt_id)
        assert (row.graded_at, row.grade) == (graded_at, grade)
        assert final_jobs[attempt_id].tries == 1
    for attempt_id in in_flight:  # the lease expired and the successor redid it, once
        assert final_jobs[attempt_id].tries == 2
    for attempt_id in set(ids) - set(graded_before) - in_flight:
        assert final_jobs[attempt_id].tries == 1
    # Requests to the LLM after the restart: one per answer not graded before the kill, none for the others.
    asked = requests_per_answer(fake_openai)
    for attempt_id in ids:
        n = index_of[attempt_id]
        after = asked.get(n, 0) - asked_at_kill.get(n, 0)
        assert after == (0 if attempt_id in graded_before else 1), (attempt_id, asked_at_kill.get(n), asked.get(n))
        if attempt_id in graded_before:
            assert asked_at_kill[n] == 1
    assert "Traceback" not in second.stderr
