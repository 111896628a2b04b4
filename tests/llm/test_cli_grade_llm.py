"""`mockinterview grade --grader llm --json` in a subprocess against the loopback OpenAI server."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import mockinterview_command

pytestmark = pytest.mark.slow


async def run_grade(env: dict[str, str], question_id: str, answer: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *mockinterview_command(),
        "grade",
        "--question-id",
        question_id,
        "--answer",
        answer,
        "--grader",
        "llm",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # The server runs on this event loop, so wait for the child without blocking it.
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, stdout.decode(), stderr.decode()


@pytest.fixture
def bank_question(builtin_bank):
    questions = builtin_bank.questions
    return questions[min(questions)]


async def test_grade_json_shows_the_llm_grade_with_tokens_and_cost(fake_openai, cli_env, bank_question):
    env = {**cli_env, "OPENAI_BASE_URL": fake_openai.base_url, "OPENAI_API_KEY": "test"}
    code, stdout, stderr = await run_grade(env, bank_question.id, bank_question.reference_answer)
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["question_id"] == bank_question.id
    assert payload["grader"] == "llm"
    assert payload["model"] == "gpt-5-mini"
    assert payload["prompt_version"] == "grader/v1"
    assert payload["usage"]["prompt_tokens"] > 0
    assert payload["usage"]["completion_tokens"] > 0
    assert payload["usage"]["cost_usd"] > 0
    assert len(fake_openai.requests) == 1
    assert fake_openai.requests[0].headers["Authorization"] == "Bearer test"
    assert "Unclosed" not in stderr  # the grader's HTTP session is closed before the event loop is


async def test_grade_json_falls_back_to_offline_when_the_server_is_down(cli_env, bank_question):
    server = FakeOpenAIServer()
    await server.start()
    await server.close()  # nothing listens on this port any more
    env = {
        **cli_env,
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "test",
        "MOCKINTERVIEW_LLM_MAX_RETRIES": "0",
    }
    code, stdout, stderr = await run_grade(env, bank_question.id, bank_question.reference_answer)
    assert code == 0, stderr
    payload = json.loads(stdout)
    assert payload["grader"] == "offline-fallback"
    assert "fallback" in payload["flags"]
