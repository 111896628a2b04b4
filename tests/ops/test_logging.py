"""Structured logging: context ids on every record (text and JSON), and secrets masked everywhere in a record."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from bot.logging_setup import (
    REDACTED,
    ContextFilter,
    JsonFormatter,
    RedactingFilter,
    TextFormatter,
    bind_log_context,
    configure_logging,
    current_log_context,
    log_context,
)

SECRET = "sk-live-SECRET-0123456789abcdef"
TOKEN = "MTA5ODc2NTQzMjE.GhIjKl.discord-token-value"


@pytest.fixture
def capture():
    """A handler configured like the CLI's (context + redaction), writing to a buffer; root restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def make(fmt: str = "text", secrets=(SECRET, TOKEN)) -> io.StringIO:
        configure_logging("DEBUG", fmt, secrets=secrets)
        buffer = io.StringIO()
        root.handlers[0].setStream(buffer)
        return buffer

    yield make
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_json_lines_carry_the_context_ids(capture):
    buffer = capture("json")
    log = logging.getLogger("tests.ops")
    with log_context(session_id=12, user_id=34, guild_id=56):
        log.info("answer stored for %s", "question")
    log.info("outside")
    first, second = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["message"] == "answer stored for question"
    assert (first["session_id"], first["user_id"], first["guild_id"]) == (12, 34, 56)
    assert "session_id" not in second and "user_id" not in second


def test_text_lines_append_the_context_ids(capture):
    buffer = capture("text")
    with log_context(user_id=7), log_context(session_id=8):  # nested blocks merge
        logging.getLogger("tests.ops").warning("slow grader")
    line = buffer.getvalue().strip()
    assert line.endswith("slow grader session_id=8 user_id=7")
    assert "WARNING" in line


def test_context_is_restored_after_the_block_and_none_values_are_left_out():
    with log_context(user_id=1, guild_id=None):
        assert current_log_context() == {"user_id": 1}
        with log_context(user_id=2):
            assert current_log_context() == {"user_id": 2}
        assert current_log_context() == {"user_id": 1}
    assert current_log_context() == {}


async def test_ids_bound_in_one_task_do_not_leak_into_another():
    seen: dict[str, dict[str, object]] = {}

    async def job(name: str, attempt_id: int) -> None:
        bind_log_context(attempt_id=attempt_id)
        await asyncio.sleep(0.01)
        seen[name] = current_log_context()

    await asyncio.gather(job("a", 1), job("b", 2))
    assert seen == {"a": {"attempt_id": 1}, "b": {"attempt_id": 2}}
    assert current_log_context() == {}


def test_explicit_extra_wins_over_the_context():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.user_id = 99
    with log_context(user_id=1):
        ContextFilter().filter(record)
    assert record.user_id == 99


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_are_masked_in_messages_args_extras_and_tracebacks(capture, fmt):
    buffer = capture(fmt)
    log = logging.getLogger("tests.ops.secrets")
    log.info("calling with key %s", SECRET)
    log.warning(f"token is {TOKEN}")
    log.error("request failed", extra={"url": f"https://x/?key={SECRET}"})
    try:
        raise RuntimeError(f"401 for Authorization: Bearer {SECRET}")
    except RuntimeError:
        log.exception("grader crashed")
    output = buffer.getvalue()
    assert SECRET not in output and TOKEN not in output
    assert output.count(REDACTED) >= 3
    assert "grader crashed" in output and "RuntimeError: 401 for Authorization: Bearer [REDACTED]" in output.replace(
        "\\n", "\n"
    )


def test_json_exception_field_is_redacted(capture):
    buffer = capture("json")
    try:
        raise ValueError(SECRET)
    except ValueError:
        logging.getLogger("tests.ops").exception("boom")
    payload = json.loads(buffer.getvalue())
    assert "ValueError: [REDACTED]" in payload["exception"]


def test_short_or_empty_secrets_are_ignored_rather_than_masking_every_word():
    redactor = RedactingFilter(["", None, "ab", "  "])
    assert redactor.secrets == []
    assert redactor.redact("ab ab") == "ab ab"


def test_longer_secret_is_masked_whole_when_it_contains_a_shorter_one():
    redactor = RedactingFilter(["abcd", "abcdefgh"])
    assert redactor.redact("x abcdefgh y abcd") == f"x {REDACTED} y {REDACTED}"


def test_formatters_work_without_the_filters():
    record = logging.LogRecord("n", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    record.guild_id = 5
    assert json.loads(JsonFormatter().format(record))["guild_id"] == 5
    assert TextFormatter().format(record).endswith("hello you guild_id=5")


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_libraries_that_log_secrets_or_noise_are_held_at_warning(capture, level):
    buffer = capture()
    configure_logging(level, "text", secrets=())
    logging.getLogger().handlers[0].setStream(buffer)
    interaction_token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDEyMzQ1Njc4"  # in the callback URL, not a configured secret
    logging.getLogger("discord.webhook.async_").debug(
        "Webhook ID None with POST https://discord.com/api/v10/interactions/1/%s/callback", interaction_token
    )
    logging.getLogger("aiosqlite").debug("executing INSERT INTO attempts (answer) VALUES (?) ('my private answer',)")
    logging.getLogger("alembic.runtime.plugins").info("setup plugin alembic.autogenerate.schemas")
    logging.getLogger("bot.pipeline").info("the bot's own line")
    logging.getLogger("aiosqlite").warning("a warning still shows")
    text = buffer.getvalue()
    assert interaction_token not in text and "my private answer" not in text and "setup plugin" not in text
    assert "the bot's own line" in text and "a warning still shows" in text
