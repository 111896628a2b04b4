"""`mockinterview worker` as operators run it: grades the shared queue, serves metrics, stops cleanly on SIGTERM.

The LLM grader talks to the loopback OpenAI server, whose replies are slowed down on purpose so the worker
holds leases at the moment the signal arrives.
"""

from __future__ import annotations

import json
import signal
import socket
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.queue import SqlGradingQueue
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import run_cli
from tests.ops._worker import WorkerProcess, attempt_rows, jobs, submit, wait_until

pytestmark = pytest.mark.slow

API_KEY = "sk-worker-test-secret-7f3a9c"


@pytest.fixture
async def engine(database_url):
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def fake_openai():
    async with FakeOpenAIServer() as server:
        yield server


def worker_env(cli_env, server: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    env = dict(cli_env)
    env.update(
        {
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": server.base_url,
            "MOCKINTERVIEW_GRADER": "llm",
            "MOCKINTERVIEW_LLM_TIMEOUT_S": "120",
            "MOCKINTERVIEW_LLM_MAX_RETRIES": "0",
            "MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S": "0.1",
            "MOCKINTERVIEW_AUTO_MIGRATE": "false",
            **extra,
        }
    )
    return env


async def test_sigterm_with_jobs_in_hand_exits_within_the_timeout_and_releases_them(
    engine, fake_openai, cli_env, tmp_path
):
    fake_openai.default = Reply("slow", delay_s=90)  # never finishes before the shutdown timeout
    ids = await submit(engine, 3)
    env = worker_env(cli_env, fake_openai, MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S="2")
    worker = WorkerProcess(env, tmp_path, "--concurrency", "2", "--worker-id", "doomed-worker")
    try:
        await wait_until(lambda: fake_openai.in_flight == 2, 90, "two grading requests in flight", worker)
        leased = [job for job in await jobs(engine) if job.status == "leased"]
        assert [job.lease_owner for job in leased] == ["doomed-worker"] * 2
        started = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)
        assert await worker.wait(30) == 0, worker.stderr
        elapsed = time.monotonic() - started
    finally:
        worker.kill()
    # Far below the 90 s the replies would take (room for a loaded machine): the timeout, not the jobs, ended it.
    assert elapsed < 2 + 18, f"shutdown took {elapsed:.1f}s with a 2s timeout"
    assert "Traceback" not in worker.stderr
    assert "released 2 unfinished grading jobs" in worker.stderr
    rows = await jobs(engine)
    assert [(job.status, job.tries, job.lease_owner) for job in rows] == [("queued", 0, None)] * 3
    assert {row.status for row in await attempt_rows(engine)} == {"pending"}  # nothing half-graded
    # Reclaimable at once, without waiting for the 300 s lease to expire.
    claimed = await SqlGradingQueue(engine).claim_jobs("successor", 10, 60)
    assert sorted(job.attempt.id for job in claimed) == ids


async def test_sigterm_lets_short_jobs_finish_before_exiting(engine, fake_openai, cli_env, tmp_path):
    fake_openai.default = Reply("slow", delay_s=2.0)
    await submit(engine, 2)
    env = worker_env(cli_env, fake_openai, MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S="30")
    worker = WorkerProcess(env, tmp_path, "--concurrency", "2")
    try:
        await wait_until(lambda: fake_openai.in_flight == 2, 90, "two grading requests in flight", worker)
        worker.proc.send_signal(signal.SIGTERM)
        assert await worker.wait(40) == 0, worker.stderr
    finally:
        worker.kill()
    assert [(job.status, job.tries) for job in await jobs(engine)] == [("done", 1)] * 2
    assert [(row.status, row.grader) for row in await attempt_rows(engine)] == [("graded", "llm")] * 2
    assert len(fake_openai.requests) == 2  # no new work taken after the signal
    assert "Traceback" not in worker.stderr


async def test_worker_serves_metrics_and_health_while_grading(engine, fake_openai, cli_env, tmp_path):
    fake_openai.default = Reply("slow", delay_s=0.2)
    await submit(engine, 4)
    port = free_port()
    env = worker_env(cli_env, fake_openai, MOCKINTERVIEW_METRICS_PORT=str(port), MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S="5")
    worker = WorkerProcess(env, tmp_path, "--concurrency", "2")
    try:

        async def all_done() -> bool:
            return all(job.status == "done" for job in await jobs(engine))

        await wait_until(all_done, 90, "every job graded", worker)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200
                body = await response.text()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                health = json.loads(await response.text())
        worker.proc.send_signal(signal.SIGTERM)
        assert await worker.wait(30) == 0, worker.stderr
    finally:
        worker.kill()
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    assert values[("mockinterview_grades_total", (("grader", "llm"),))] == 4
    assert values[("mockinterview_grading_latency_seconds_count", (("grader", "llm"),))] == 4
    assert values[("mockinterview_llm_tokens_total", (("kind", "prompt"), ("model", "gpt-5-mini")))] > 0
    assert values[("mockinterview_llm_cost_usd_total", (("model", "gpt-5-mini"),))] > 0
    assert values[("mockinterview_grading_queue_jobs", (("status", "done"),))] == 4
    assert health["status"] == "ok" and health["database"] == "ok"
    assert health["queue"] == {"done": 4} and health["queue_depth"] == 0
    assert health["role"] == "worker"


async def test_until_idle_grades_everything_with_the_offline_grader_and_exits(engine, cli_env, tmp_path):
    ids = await submit(engine, 3)
    env = dict(cli_env, MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S="0.1")
    worker = WorkerProcess(env, tmp_path, "--until-idle", "--grader", "offline", "--processes", "2")
    try:
        assert await worker.wait(120) == 0, worker.stderr
    finally:
        worker.kill()
    rows = await attempt_rows(engine)
    assert [row.id for row in rows] == ids
    assert {(row.status, row.grader) for row in rows} == {("graded", "offline")}
    assert "worker stopped: 3 graded" in worker.stderr


async def test_a_worker_warms_the_offline_model_at_start_and_exits_after_the_load(
    engine, fake_openai, cli_env, tmp_path
):
    """The LLM grader's fallback and guard are the offline grader: its model loads beside the first claims, and even
    a worker that finds nothing to do waits for the load before exiting (onnxruntime aborts under an exit)."""
    worker = WorkerProcess(worker_env(cli_env, fake_openai), tmp_path, "--until-idle")
    try:
        assert await worker.wait(120) == 0, worker.stderr
    finally:
        worker.kill()
    assert "offline grader warmed up" in worker.stderr
    assert "worker stopped: 0 graded" in worker.stderr


def test_worker_rejects_an_unknown_grader(cli_env):
    result = run_cli(["worker", "--grader", "magic"], cli_env)
    assert result.returncode == 2
    assert "offline or llm" in result.stderr and "Traceback" not in result.stderr


def test_worker_refuses_an_id_its_lease_owner_column_cannot_hold_before_starting(cli_env):
    # 63 characters fit alone, but not as `<id>/2`, the third loop's name: the database would refuse every claim.
    result = run_cli(["worker", "--until-idle", "--processes", "3", "--worker-id", "w" * 63], cli_env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is 65 characters long; the limit is 64" in result.stderr
    assert "Traceback" not in result.stderr and "grading with" not in result.stderr  # refused before starting
    fits = run_cli(["worker", "--until-idle", "--processes", "3", "--worker-id", "w" * 62], cli_env)
    assert fits.returncode == 0, fits.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
