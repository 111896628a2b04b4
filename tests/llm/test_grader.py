"""`OpenAIGrader` with the real AsyncOpenAI client against the loopback server, faults included."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from bot.core.errors import GraderUnavailableError
from bot.core.models import Verdict
from bot.llm import prompts
from bot.llm.errors import LLMOutputError, LLMUnavailableError
from bot.llm.factory import build_client
from bot.llm.grader import ANSWER_CUT_FLAG, OpenAIGrader
from bot.llm.limits import TokenRateLimiter
from bot.llm.tokens import count_message_tokens, encoding_for_model
from bot.logging_setup import configure_logging
from bot.settings import DEFAULT_PRICES
from tests.fakes.openai_server import FakeOpenAIServer, Reply
from tests.llm.conftest import GOOD_ANSWER, RECORDED_BODY, llm_settings

# -- the normal path ----------------------------------------------------------------------------------------------


async def test_grade_returns_the_models_verdicts_with_provenance(fake_openai, make_grader, rubric):
    result = await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert result.grader == "llm"
    assert result.model == "gpt-5-mini"
    assert result.prompt_version == "grader/v1"
    assert result.score >= 7
    assert [kp.key_point for kp in result.key_points] == list(rubric.key_points)
    assert all(kp.verdict == Verdict.COVERED for kp in result.key_points)
    assert result.follow_up == "How would you measure that in practice?"
    assert result.latency_ms > 0


async def test_request_uses_strict_structured_output_with_reasoning_first(fake_openai, make_grader, rubric):
    await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    (request,) = fake_openai.requests
    response_format = request.body["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    assert next(iter(response_format["json_schema"]["schema"]["properties"])) == "reasoning"
    assert request.body["model"] == "gpt-5-mini"
    assert request.body["max_completion_tokens"] == 4_000
    assert [m["role"] for m in request.messages] == ["system", "user"]
    assert request.headers["Authorization"] == "Bearer test"


async def test_usage_records_prompt_completion_and_cached_tokens_with_cost(fake_openai, make_grader, rubric):
    grader = make_grader(fake_openai)
    first = await grader.grade(rubric, GOOD_ANSWER)
    second = await grader.grade(rubric, "A different answer about the generator.")
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert first.usage.cached_tokens == 0
    assert second.usage.cached_tokens > 0  # the static system prompt was served from the cache
    price = DEFAULT_PRICES["gpt-5-mini"]
    usage = second.usage
    expected = (
        (usage.prompt_tokens - usage.cached_tokens) * price.input
        + usage.cached_tokens * price.cached_input
        + usage.completion_tokens * price.output
    ) / 1e6
    assert usage.cost_usd == pytest.approx(expected, abs=1e-8)


async def test_long_answer_is_cut_to_the_budget_and_the_candidate_is_told(fake_openai, make_grader, rubric):
    long_answer = GOOD_ANSWER + " " + " ".join(f"padding{i}" for i in range(3_000))
    result = await make_grader(fake_openai, answer_token_budget=100).grade(rubric, long_answer)
    assert ANSWER_CUT_FLAG in result.flags
    assert any("only the first" in notice for notice in result.notices)
    sent = fake_openai.requests[0].messages[1]["content"]
    assert "padding2999" not in sent
    assert len(sent) < len(long_answer)


async def test_answer_within_budget_carries_no_cut_notice(fake_openai, make_grader, rubric):
    result = await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert result.notices == []
    assert ANSWER_CUT_FLAG not in result.flags


# -- retries the SDK does -------------------------------------------------------------------------------------------


async def test_rate_limit_is_retried_after_the_servers_retry_after(fake_openai, make_grader, rubric):
    # 0.6 s is longer than the SDK's own first backoff (at most 0.5 s), so the gap proves Retry-After was used.
    fake_openai.enqueue(Reply("rate_limit", retry_after="0.6"))
    result = await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert result.grader == "llm"
    first, second = fake_openai.requests
    assert first.status == 429
    assert second.received_at - first.received_at >= 0.6


async def test_server_error_is_retried(fake_openai, make_grader, rubric):
    fake_openai.enqueue(Reply("server_error", retry_after="0.05"))
    result = await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert result.grader == "llm"
    assert [r.status for r in fake_openai.requests] == [500, 200]


async def test_server_errors_beyond_the_retries_mean_the_llm_is_unavailable(fake_openai, make_grader, rubric):
    fake_openai.enqueue(*[Reply("server_error", retry_after="0.05")] * 3)
    with pytest.raises(LLMUnavailableError):
        await make_grader(fake_openai, llm_max_retries=2).grade(rubric, GOOD_ANSWER)
    assert len(fake_openai.requests) == 3


async def test_slow_server_past_the_timeout_means_the_llm_is_unavailable(fake_openai, make_grader, rubric):
    fake_openai.enqueue(Reply("slow", delay_s=5.0))
    with pytest.raises(LLMUnavailableError, match="in time"):
        await make_grader(fake_openai, llm_timeout_s=0.3, llm_max_retries=0).grade(rubric, GOOD_ANSWER)


async def test_unreachable_server_means_the_llm_is_unavailable(make_grader, rubric):
    server = FakeOpenAIServer()
    await server.start()
    await server.close()  # the port is now closed
    with pytest.raises(LLMUnavailableError):
        await make_grader(server, llm_max_retries=0).grade(rubric, GOOD_ANSWER)


async def test_rejected_credentials_are_a_configuration_error_not_an_outage(fake_openai, make_grader, rubric):
    fake_openai.enqueue(Reply("unauthorized"))
    with pytest.raises(GraderUnavailableError) as caught:
        await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert not isinstance(caught.value, LLMUnavailableError)
    assert caught.value.retryable is False


# -- output the grader must not trust --------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["malformed", "schema_violation"])
async def test_invalid_output_is_re_asked_once_with_the_error(fake_openai, make_grader, rubric, fault):
    fake_openai.enqueue(Reply(fault))
    result = await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert result.score >= 7
    assert len(fake_openai.requests) == 2
    reask = fake_openai.requests[1].messages[-1]
    assert reask["role"] == "user"
    assert reask["content"].startswith("Your reply was invalid:")


@pytest.mark.parametrize("fault", ["malformed", "schema_violation"])
async def test_output_still_invalid_after_the_re_ask_fails_without_a_score(fake_openai, make_grader, rubric, fault):
    fake_openai.enqueue(Reply(fault), Reply(fault))
    with pytest.raises(LLMOutputError, match="after one re-ask"):
        await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert len(fake_openai.requests) == 2


async def test_schema_violation_names_the_offending_fields_in_the_re_ask(fake_openai, make_grader, rubric):
    fake_openai.enqueue(Reply("schema_violation"))
    await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    reask = fake_openai.requests[1].messages[-1]["content"]
    assert "score" in reask and "verdicts" in reask


async def test_a_grade_that_skips_a_key_point_is_re_asked(fake_openai, make_grader, rubric):
    incomplete = {
        "reasoning": "r",
        "key_points": [{"index": 1, "key_point": rubric.key_points[0], "verdict": "covered", "evidence": "x"}],
        "factual_errors": [],
        "score": 9,
        "strengths": [],
        "improvements": [],
        "follow_up_question": "q",
    }
    fake_openai.enqueue(Reply("raw", content=json.dumps(incomplete)))
    result = await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert len(result.key_points) == len(rubric.key_points)
    assert "exactly once" in fake_openai.requests[1].messages[-1]["content"]


async def test_refusal_fails_without_a_score_or_re_ask(fake_openai, make_grader, rubric):
    fake_openai.enqueue(Reply("refusal"))
    with pytest.raises(LLMOutputError, match="refused"):
        await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    assert len(fake_openai.requests) == 1


async def test_reply_cut_by_the_output_limit_fails(fake_openai, make_grader, rubric):
    fake_openai.enqueue(Reply("length"))
    with pytest.raises(LLMOutputError, match="output token limit"):
        await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)


# -- servers without json_schema ---------------------------------------------------------------------------------


@pytest.fixture
async def json_mode_server():
    async with FakeOpenAIServer(reject_json_schema=True) as server:
        yield server


async def test_server_rejecting_json_schema_is_graded_in_json_mode(json_mode_server, make_grader, rubric):
    result = await make_grader(json_mode_server).grade(rubric, GOOD_ANSWER)
    assert result.score >= 7
    rejected, accepted = json_mode_server.requests
    assert (rejected.status, rejected.response_format_type) == (400, "json_schema")
    assert accepted.response_format_type == "json_object"
    assert "JSON Schema" in accepted.messages[0]["content"]


async def test_after_one_rejection_the_grader_goes_straight_to_json_mode(json_mode_server, make_grader, rubric):
    grader = make_grader(json_mode_server)
    await grader.grade(rubric, GOOD_ANSWER)
    await grader.grade(rubric, GOOD_ANSWER)
    assert [r.response_format_type for r in json_mode_server.requests] == ["json_schema", "json_object", "json_object"]


async def test_json_mode_re_asks_once_then_fails(json_mode_server, make_grader, rubric):
    json_mode_server.enqueue(Reply("malformed"), Reply("schema_violation"))
    with pytest.raises(LLMOutputError):
        await make_grader(json_mode_server, llm_structured_output="json_object").grade(rubric, GOOD_ANSWER)
    assert [r.response_format_type for r in json_mode_server.requests] == ["json_object", "json_object"]


async def test_json_mode_refusal_and_length_fail(json_mode_server, make_grader, rubric):
    grader = make_grader(json_mode_server, llm_structured_output="json_object")
    json_mode_server.enqueue(Reply("refusal"), Reply("length"))
    with pytest.raises(LLMOutputError, match="refused"):
        await grader.grade(rubric, GOOD_ANSWER)
    with pytest.raises(LLMOutputError, match="output token limit"):
        await grader.grade(rubric, GOOD_ANSWER)


async def test_forced_json_schema_does_not_fall_back(json_mode_server, make_grader, rubric):
    with pytest.raises(GraderUnavailableError) as caught:
        await make_grader(json_mode_server, llm_structured_output="json_schema").grade(rubric, GOOD_ANSWER)
    assert not isinstance(caught.value, LLMUnavailableError)
    assert len(json_mode_server.requests) == 1


# -- limits ------------------------------------------------------------------------------------------------------------


async def test_concurrency_limit_bounds_requests_in_flight(fake_openai, make_grader, rubric):
    fake_openai.enqueue(*[Reply("slow", delay_s=0.2)] * 6)
    grader = make_grader(fake_openai, llm_concurrency=2)
    results = await asyncio.gather(*(grader.grade(rubric, GOOD_ANSWER) for _ in range(6)))
    assert len(results) == 6
    assert fake_openai.max_in_flight == 2


async def test_token_limit_paces_requests_by_estimated_prompt_tokens(fake_openai, rubric):
    now = [0.0]
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    settings = llm_settings(fake_openai, llm_tokens_per_minute=1_000)
    limiter = TokenRateLimiter(settings.llm_tokens_per_minute, clock=lambda: now[0], sleep=fake_sleep)
    client = build_client(settings)
    try:
        grader = OpenAIGrader(client, settings, limiter=limiter)
        await grader.grade(rubric, GOOD_ANSWER)  # ~800 prompt tokens fit in the first minute's budget
        assert waits == []
        await grader.grade(rubric, GOOD_ANSWER)
    finally:
        await client.close()
    assert len(waits) == 1
    assert 20 < waits[0] < 60  # the second request waits for the bucket to refill (1,000 tokens per minute)


async def test_token_limit_is_charged_the_full_count_of_every_request_sent(fake_openai, rubric):
    """The cached counts (system prompt, rubric section) add up to the count of the whole request, re-ask included."""
    charged: list[int] = []

    class RecordingLimiter(TokenRateLimiter):
        async def acquire(self, tokens: int) -> float:
            charged.append(tokens)
            return await super().acquire(tokens)

    settings = llm_settings(fake_openai)
    client = build_client(settings)
    try:
        grader = OpenAIGrader(client, settings, limiter=RecordingLimiter(settings.llm_tokens_per_minute))
        fake_openai.enqueue(Reply("malformed"))
        await grader.grade(rubric, GOOD_ANSWER)
        await grader.grade(rubric, "/usr/bin answer starting with a slash")  # the second: counted from the cache
    finally:
        await client.close()
    encoding = encoding_for_model(settings.model)
    assert charged == [count_message_tokens(request.messages, encoding) for request in fake_openai.requests]
    assert len(charged) == 3


# -- what goes over the wire ---------------------------------------------------------------------------------------


@pytest.fixture
def fixed_nonce(monkeypatch):
    monkeypatch.setattr(prompts, "new_nonce", lambda: "0123456789abcdef")


async def test_request_body_is_byte_for_byte_the_recorded_one(raw_openai, make_grader, rubric, fixed_nonce):
    """The body recorded (tests/llm/data) before the grader's CPU work (issue 8): caching and the direct `post` send
    the same bytes. A deliberate change to the prompt, schema or options re-records it."""
    await make_grader(raw_openai).grade(rubric, GOOD_ANSWER)
    (request,) = raw_openai.raw
    assert request.body == RECORDED_BODY.read_bytes()


@pytest.mark.parametrize(
    "overrides",
    [{}, {"llm_reasoning_effort": "low"}, {"llm_structured_output": "json_object"}],
    ids=["json-schema", "reasoning-effort", "json-mode"],
)
async def test_requests_are_what_create_sends(raw_openai, make_grader, rubric, fixed_nonce, overrides, monkeypatch):
    """The grader skips `chat.completions.create`'s body transform; the SDK's `create` with the same parameters must
    send the same bytes and headers (this breaks if an SDK upgrade makes `create` send something else)."""
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-never-sent")  # `create` sends only the API key; so must we
    grader = make_grader(raw_openai, **overrides)
    await grader.grade(rubric, GOOD_ANSWER)
    client = build_client(llm_settings(raw_openai, **overrides))
    try:
        await client.chat.completions.create(**json.loads(raw_openai.raw[0].body))
    finally:
        await client.close()
    ours, sdks = raw_openai.raw
    assert ours.body == sdks.body
    assert ours.headers == sdks.headers


async def test_the_connection_pool_holds_as_many_connections_as_the_llm_concurrency(raw_openai):
    """The client itself (not only the grader's semaphore) never opens more connections than `llm_concurrency`, and
    keeps them alive for the next requests."""
    raw_openai.enqueue(*[Reply("slow", delay_s=0.1)] * 6)
    client = build_client(llm_settings(raw_openai, llm_concurrency=2))
    messages = [{"role": "user", "content": "hello"}]
    try:
        for _ in range(2):
            await asyncio.gather(*(client.chat.completions.create(model="m", messages=messages) for _ in range(6)))
    finally:
        await client.close()
    assert raw_openai.max_in_flight == 2
    assert len({request.peer for request in raw_openai.raw}) == 2


async def test_grading_at_info_level_logs_no_line_per_http_request(fake_openai, make_grader, rubric):
    """The SDK's transport (httpx2) logs every request at INFO; the bot's logs keep to its own lines."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        configure_logging("INFO", "text", secrets=())
        buffer = io.StringIO()
        root.handlers[0].setStream(buffer)
        await make_grader(fake_openai).grade(rubric, GOOD_ANSWER)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    assert "HTTP Request" not in buffer.getvalue()
