"""`mockinterview run` with `MOCKINTERVIEW_METRICS_PORT`: /metrics and /healthz over HTTP on 127.0.0.1 while the bot
serves the loopback Discord and grades with the loopback LLM; and the compose file's bot health check against it."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.discord_app._run_process import BotProcess, answer_practice, feedback_followups, run_env
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer

pytestmark = pytest.mark.slow

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def llm():
    async with FakeOpenAIServer() as server:
        yield server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def scrape(port: int) -> Samples:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def healthz(port: int) -> tuple[int, dict]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
        return r.status, await r.json()


def compose_health_check(port: int) -> list[str]:
    """The compose file's health check of the bot (CMD form), pointed at `port` instead of the compose port."""
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    assert bot["environment"]["MOCKINTERVIEW_METRICS_PORT"] == "9100"  # what the check's URL assumes
    assert bot["environment"]["MOCKINTERVIEW_METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - so 127.0.0.1 works inside
    kind, program, *args = bot["healthcheck"]["test"]
    assert (kind, program) == ("CMD", "python") and any(":9100/healthz" in a for a in args)
    return [sys.executable, *(a.replace(":9100/", f":{port}/") for a in args)]


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


async def test_run_serves_metrics_that_move_with_a_practice_answer_and_a_healthy_healthz(
    fake: FakeDiscord, llm: FakeOpenAIServer, cli_env, tmp_path
) -> None:
    port = free_port()
    env = run_env(cli_env, fake, llm, MOCKINTERVIEW_METRICS_PORT=str(port), MOCKINTERVIEW_METRICS_HOST="127.0.0.1")
    bot = await BotProcess(env, tmp_path).start(fake)
    try:
        before = await scrape(port)
        submit = await answer_practice(
            fake, fake.make_user("observed"), "Mode collapse: the generator covers few modes."
        )
        await fake.wait_until(lambda: feedback_followups(submit), 30, "the feedback")
        after = await scrape(port)

        health_status, health = await healthz(port)
        async with asyncio.timeout(15):  # discord.py reports ready once its guild_ready_timeout has passed
            while health_status == 200 and health["gateway"] != "ready":
                await asyncio.sleep(0.2)
                health_status, health = await healthz(port)
        compose_check = await asyncio.create_subprocess_exec(*compose_health_check(port), env=cli_env)
        compose_check_status = await asyncio.wait_for(compose_check.wait(), 30)
    finally:
        bot.signal(signal.SIGTERM)
        try:
            assert await bot.wait(30) == 0, bot.stderr[-3000:]
        finally:
            await bot.kill()

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    # Every interaction, by kind: the command, the Answer button, the modal submit.
    assert moved("mockinterview_interactions_total", kind="command:practice") == 1
    assert moved("mockinterview_interactions_total", kind="component:iv:answer") == 1
    assert moved("mockinterview_interactions_total", kind="modal:iv:answer-modal") == 1
    # Each was acknowledged once, timed from its snowflake: seconds, not the years since Discord's epoch.
    for kind in ("command", "component", "modal"):
        assert moved("mockinterview_ack_latency_seconds_count", kind=kind) == 1, kind
        assert 0 <= moved("mockinterview_ack_latency_seconds_sum", kind=kind) < 3.0, kind
    # Grading, by grader, with the LLM's tokens and cost.
    assert moved("mockinterview_grades_total", grader="llm") == 1
    assert moved("mockinterview_grading_latency_seconds_count", grader="llm") == 1
    assert moved("mockinterview_llm_tokens_total", kind="prompt") > 0
    assert moved("mockinterview_llm_tokens_total", kind="completion") > 0
    assert moved("mockinterview_llm_cost_usd_total") > 0
    # Queue depth, refreshed on the scrape; and no unexpected error anywhere.
    assert value(after, "mockinterview_grading_queue_jobs", status="done") == 1
    assert value(after, "mockinterview_grading_queue_jobs", status="queued") == 0
    assert total(after, "mockinterview_errors_total") == 0

    assert health_status == 200, health
    assert health["status"] == "ok" and health["database"] == "ok"
    assert health["role"] == "bot" and health["gateway"] == "ready" and health["grader"] == "llm"
    assert health["queue"]["done"] == 1 and health["queue_depth"] == 0
    assert compose_check_status == 0  # the compose file's bot health check, pointed at this port, passes
