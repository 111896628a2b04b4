"""The Discord token and the API key never reach the logs or the console, whatever the level, format or error.

Known secrets are configured; the loopback OpenAI server is made to echo the key back in a 401 (as some providers
do), so the secret really passes through the error paths, and the output is searched for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal

import pytest

from bot.core.errors import GraderUnavailableError
from bot.llm.factory import build_client
from bot.llm.fallback import LLMGraderWithFallback
from bot.llm.grader import OpenAIGrader
from bot.logging_setup import REDACTED, configure_logging
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.helpers import mockinterview_command
from tests.llm.conftest import GOOD_ANSWER, MODE_COLLAPSE

API_KEY = "sk-proj-SECRETKEY-5b1e0c9d8a7f6e5d4c3b2a1908"
DISCORD_TOKEN = "MTE4NzY1NDMyMTA5ODc2NTQzMg.SECRET.discord-token-a1b2c3d4e5f6"


@pytest.fixture
async def fake_openai():
    async with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def captured_logs():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("openai", "httpx", "httpcore")}

    def start(fmt: str) -> io.StringIO:
        configure_logging("DEBUG", fmt, secrets=[API_KEY, DISCORD_TOKEN])
        for name in levels:  # the libraries' own debug output too, which normal runs keep at WARNING
            logging.getLogger(name).setLevel(logging.DEBUG)
        buffer = io.StringIO()
        root.handlers[0].setStream(buffer)
        return buffer

    yield start
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_llm_grader_error_paths_at_debug_level_never_log_the_key(fake_openai, captured_logs, offline_grader, fmt):
    buffer = captured_logs(fmt)
    settings = Settings(
        _env_file=None, openai_api_key=API_KEY, openai_base_url=fake_openai.base_url, llm_max_retries=1,
        llm_timeout_s=5, discord_token=DISCORD_TOKEN,
    )  # fmt: skip
    client = build_client(settings)
    grader = LLMGraderWithFallback(OpenAIGrader(client, settings), offline_grader)
    try:
        fake_openai.enqueue(Reply("unauthorized_echo"))
        with pytest.raises(GraderUnavailableError):
            await grader.grade(MODE_COLLAPSE, GOOD_ANSWER)
        fake_openai.enqueue(Reply("rate_limit", retry_after="0"), Reply("server_error"), Reply("malformed"))
        await grader.grade(MODE_COLLAPSE, GOOD_ANSWER)  # a 429, a 500 -> offline fallback
        await grader.grade(MODE_COLLAPSE, GOOD_ANSWER)  # malformed, re-ask ok
    finally:
        await client.close()
    output = buffer.getvalue()
    assert fake_openai.requests[0].headers["Authorization"] == f"Bearer {API_KEY}"  # the key really was used
    assert "LLM request rejected (401)" in output
    assert REDACTED in output  # the echoed key reached the log and was masked
    assert API_KEY not in output and DISCORD_TOKEN not in output


def _env(cli_env: dict[str, str], server: FakeOpenAIServer, fmt: str) -> dict[str, str]:
    return {
        **cli_env,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": server.base_url,
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "MOCKINTERVIEW_LOG_LEVEL": "DEBUG",
        "MOCKINTERVIEW_LOG_FORMAT": fmt,
        "MOCKINTERVIEW_LLM_MAX_RETRIES": "0",
    }


async def _run(args: list[str], env: dict[str, str], seconds: float = 120) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *mockinterview_command(), *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), seconds)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, (stdout + stderr).decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_cli_grade_with_a_rejected_key_prints_no_secret(fake_openai, cli_env, fmt):
    fake_openai.enqueue(Reply("unauthorized_echo"))
    code, output = await _run(
        ["grade", "--question-id", "gans.mode-collapse", "--answer", GOOD_ANSWER, "--grader", "llm"],
        _env(cli_env, fake_openai, fmt),
    )
    assert len(fake_openai.requests) == 1
    assert code != 0
    assert API_KEY not in output and DISCORD_TOKEN not in output
    assert "Traceback" not in output


@pytest.mark.slow
async def test_worker_json_logs_of_grading_failures_carry_no_secret(fake_openai, cli_env, tmp_path):
    from bot.storage.engine import create_engine
    from bot.storage.migrate import upgrade_async
    from tests.ops._worker import submit

    await upgrade_async(cli_env["MOCKINTERVIEW_DATABASE_URL"])
    engine = create_engine(cli_env["MOCKINTERVIEW_DATABASE_URL"])
    try:
        await submit(engine, 2)
    finally:
        await engine.dispose()
    fake_openai.default = Reply("unauthorized_echo")
    code, output = await _run(["worker", "--until-idle", "--grader", "llm"], _env(cli_env, fake_openai, "json"))
    assert code == 0, output[-3000:]
    assert len(fake_openai.requests) == 2
    assert "rejected the request (401)" in output  # the failure was logged...
    assert API_KEY not in output and DISCORD_TOKEN not in output  # ...without the key it echoed


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_run_at_debug_level_never_prints_the_discord_token(cli_env, fmt):
    async with FakeDiscord(token=DISCORD_TOKEN) as fake:
        env = {
            **cli_env,
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "OPENAI_API_KEY": API_KEY,
            "MOCKINTERVIEW_GRADER": "offline",
            "MOCKINTERVIEW_DISCORD_API_BASE": fake.api_base,
            "MOCKINTERVIEW_LOG_LEVEL": "DEBUG",
            "MOCKINTERVIEW_LOG_FORMAT": fmt,
        }
        process = await asyncio.create_subprocess_exec(
            *mockinterview_command(), "run", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            await fake.wait_until(lambda: fake.identify_count, 90, "the bot to IDENTIFY")  # start-up under load
            await fake.wait_ready(timeout=30)
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                with contextlib.suppress(Exception):
                    await process.wait()
    output = (stdout + stderr).decode(errors="replace")
    assert fake.identify_count >= 1  # it really logged in with the token
    assert DISCORD_TOKEN not in output and API_KEY not in output
