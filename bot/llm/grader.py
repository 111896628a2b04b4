"""`OpenAIGrader`: grades an answer with any OpenAI-compatible chat model, or raises; it never invents a score."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.lib._parsing import type_to_response_format_param
from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionUsage
from pydantic import ValidationError

from bot.core.errors import GraderUnavailableError
from bot.core.models import GradeResult, Rubric, TokenUsage
from bot.llm.errors import LLMOutputError, LLMUnavailableError
from bot.llm.limits import TokenRateLimiter
from bot.llm.prompts import GraderPrompt, RenderedPrompt
from bot.llm.schema import GRADER_NAME, LLMGrade
from bot.llm.tokens import (
    PromptTokenCounter,
    cut_notice,
    encoding_for_model,
    estimate_cost,
    fit_to_budget,
    price_for,
)
from bot.settings import Settings

log = logging.getLogger(__name__)

ANSWER_CUT_FLAG = "answer-cut"
# Statuses the SDK retries besides 429 and 5xx (request timeout, conflict): still failing after the retries, the
# server is struggling, not misconfigured.
_TRANSIENT_STATUSES = (408, 409)
_JSON_SCHEMA_HINTS = ("json_schema", "response_format", "structured")
# JSON mode has no schema parameter, so the schema goes in the (static, cacheable) system message.
_SCHEMA_HINT = "\n\nThe JSON object must match this JSON Schema:\n" + json.dumps(
    LLMGrade.model_json_schema(), separators=(",", ":")
)
# The structured-output parameter, built once: `chat.completions.parse(response_format=LLMGrade)` rebuilt this
# strict schema from the pydantic model on every request (~15 % of a grade's CPU; benchmarks/README.md).
_RESPONSE_FORMAT = type_to_response_format_param(LLMGrade)


class OpenAIGrader:
    """Implements `core.ports.Grader` over `AsyncOpenAI`; the SDK does timeouts and retries (with Retry-After)."""

    name = GRADER_NAME

    def __init__(
        self,
        client: AsyncOpenAI,
        settings: Settings,
        *,
        prompt: GraderPrompt | None = None,
        limiter: TokenRateLimiter | None = None,
    ) -> None:
        self._client = client
        self._settings = settings
        self.model = settings.model
        self._prompt = prompt or GraderPrompt.load()
        self._encoding = encoding_for_model(settings.model)
        self._tokens = PromptTokenCounter(self._encoding)
        self._price = price_for(settings.model, settings.prices)
        self._semaphore = asyncio.Semaphore(settings.llm_concurrency)
        self._limiter = limiter or TokenRateLimiter(settings.llm_tokens_per_minute)
        # "auto" starts with json_schema and switches for good once the server rejects it.
        self._use_json_schema = settings.llm_structured_output != "json_object"

    @property
    def prompt_version(self) -> str:
        return self._prompt.prompt_version

    async def aclose(self) -> None:
        """Close the client's connections (its aiohttp session warns and logs an error if left open)."""
        await self._client.close()

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        started = time.perf_counter()
        budgeted = fit_to_budget(answer.strip(), self._settings.answer_token_budget, self._encoding)
        prompt = self._prompt.render(rubric, budgeted.text)
        async with self._semaphore:
            llm_grade, usage = await self._grade_with_one_reask(rubric, prompt)
        result = llm_grade.to_grade_result(
            rubric,
            model=self.model,
            prompt_version=self.prompt_version,
            usage=self._with_cost(usage),
            latency_ms=(time.perf_counter() - started) * 1000,
        )
        if budgeted.was_cut:
            result = result.model_copy(
                update={"notices": [*result.notices, cut_notice(budgeted)], "flags": [*result.flags, ANSWER_CUT_FLAG]}
            )
        return result

    async def _grade_with_one_reask(self, rubric: Rubric, prompt: RenderedPrompt) -> tuple[LLMGrade, TokenUsage]:
        usage = TokenUsage()
        messages = prompt.messages
        conversation = list(messages)
        # Counted once per prompt version / question, not per answer (see PromptTokenCounter).
        repeated = (prompt.system, prompt.rubric_section)
        for attempt in (1, 2):
            try:
                completion_usage, reply = await self._ask(conversation, repeated)
            except GraderUnavailableError as exc:
                self._bill(exc, _sum_usage(usage, exc.usage))
                raise
            usage = _add_usage(usage, completion_usage)
            problem = reply if isinstance(reply, str) else _mismatch(reply, rubric)
            if problem is None and isinstance(reply, LLMGrade):
                return reply, usage
            log.warning("grader output invalid (attempt %d): %s", attempt, problem)
            reask = f"Your reply was invalid: {problem}\nReply again with the complete, corrected JSON object."
            conversation = [*messages, {"role": "user", "content": reask}]
        raise self._bill(LLMOutputError(f"the model's output stayed invalid after one re-ask: {problem}"), usage)

    def _bill(self, error: GraderUnavailableError, usage: TokenUsage) -> GraderUnavailableError:
        """`error`, carrying the tokens billed so far (and their cost), so a failed grade is still metered."""
        error.usage = self._with_cost(usage)
        error.model = self.model
        return error

    async def _ask(
        self, messages: list[dict[str, str]], repeated: tuple[str, ...]
    ) -> tuple[CompletionUsage | None, LLMGrade | str]:
        """One chat request: its usage, and the grade or a description of what was wrong with the reply."""
        estimated_tokens = self._tokens.messages(messages, repeated=repeated)
        waited_s = await self._limiter.acquire(estimated_tokens)
        log.debug("grading request: ~%d prompt tokens, waited %.1f s for the token limit", estimated_tokens, waited_s)
        if self._use_json_schema:
            try:
                return await self._ask_structured(messages)
            except openai.BadRequestError as exc:
                if self._settings.llm_structured_output != "auto" or not _rejects_json_schema(exc):
                    raise _config_error(exc) from exc
                log.warning("server rejected json_schema output; using JSON mode from now on: %s", exc.message)
                self._use_json_schema = False
        return await self._ask_json_mode(messages)

    async def _ask_structured(self, messages: list[dict[str, str]]) -> tuple[CompletionUsage | None, LLMGrade | str]:
        # `create` with the prebuilt schema, not `parse`, which rebuilds it and drops an invalid reply's usage.
        try:
            completion = await self._create(messages, _RESPONSE_FORMAT)
        except openai.BadRequestError:
            raise
        except openai.OpenAIError as exc:
            raise _service_error(exc) from exc
        return _read_reply(completion)

    async def _ask_json_mode(self, messages: list[dict[str, str]]) -> tuple[CompletionUsage | None, LLMGrade | str]:
        with_schema = [{**messages[0], "content": messages[0]["content"] + _SCHEMA_HINT}, *messages[1:]]
        try:
            completion = await self._create(with_schema, {"type": "json_object"})
        except openai.BadRequestError as exc:
            raise _config_error(exc) from exc
        except openai.OpenAIError as exc:
            raise _service_error(exc) from exc
        return _read_reply(completion)

    async def _create(self, messages: list[dict[str, str]], response_format: object) -> object:
        """`chat.completions.create(...)` without its request-body transform: the same request, less CPU.

        `create` first walks the body against the SDK's parameter TypedDicts (every message against every message
        type) to rename aliased keys and format dates and files; our body has none of those, so the walk returns it
        unchanged, at ~0.6 ms of CPU per request (a sixth of a grade's). The client's public `post` sends the same
        bytes with the same options and parses the same `ChatCompletion`; `test_requests_are_what_create_sends`
        compares both, bytes and headers, so an SDK upgrade that changes `create` is caught.

        The SDK returns the body as text when it is not JSON (an HTML page from a proxy) and builds a
        `ChatCompletion` from any JSON without validating it, so the caller checks what came back (`_read_reply`).
        """
        completion: object = await self._client.post(
            "/chat/completions",
            cast_to=ChatCompletion,
            body={**self._request_options(messages), "response_format": response_format},
            options={"security": {"bearer_auth": True}},  # as `create` (API-key auth)
        )
        return completion

    def _request_options(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        options: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_completion_tokens": self._settings.llm_max_output_tokens,
        }
        if self._settings.llm_reasoning_effort is not None:
            options["reasoning_effort"] = self._settings.llm_reasoning_effort
        return options

    def _with_cost(self, usage: TokenUsage) -> TokenUsage:
        cost = estimate_cost(
            self._price,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
        )
        return usage.model_copy(update={"cost_usd": round(cost, 8)})


def _read_reply(completion: object) -> tuple[CompletionUsage | None, LLMGrade | str]:
    """The reply's usage, and its grade or what was wrong with it; raises for replies a re-ask can't fix.

    Checked the way the SDK's `parse` checks it (length, content filter, refusal, then validation), in both output
    modes, except that an invalid reply keeps its usage for the re-ask's bill.
    """
    if not isinstance(completion, ChatCompletion):  # text, e.g. a proxy's HTML page: the base URL is wrong
        raise _not_openai_compatible(f"the body is {type(completion).__name__}, not a chat completion")
    usage = completion.usage if isinstance(completion.usage, CompletionUsage) else None
    billed = _add_usage(TokenUsage(), usage)
    error = getattr(completion, "error", None)  # some proxies report an upstream failure in a 200 body
    if error is not None:
        message = error.get("message") if isinstance(error, dict) else error
        raise LLMUnavailableError(f"the LLM server reported an error: {str(message)[:200]}", usage=billed)
    if not completion.choices or completion.choices[0].message is None:
        raise _not_openai_compatible("the reply has no choices", usage=billed)
    choice = completion.choices[0]
    if choice.finish_reason == "length":
        raise _length_error(billed)
    if choice.finish_reason == "content_filter":
        raise LLMOutputError("the provider's content filter stopped the reply", retryable=False, usage=billed)
    message = choice.message
    if message.refusal:
        raise LLMOutputError(f"the model refused to grade: {message.refusal}", retryable=False, usage=billed)
    if not message.content:
        return usage, "the reply was empty"
    try:
        return usage, LLMGrade.model_validate_json(message.content)
    except ValidationError as exc:
        return usage, _describe_validation_error(exc)


def _sum_usage(total: TokenUsage, more: TokenUsage) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=total.prompt_tokens + more.prompt_tokens,
        completion_tokens=total.completion_tokens + more.completion_tokens,
        cached_tokens=total.cached_tokens + more.cached_tokens,
    )


def _add_usage(total: TokenUsage, usage: CompletionUsage | None) -> TokenUsage:
    if usage is None:
        return total
    details = usage.prompt_tokens_details
    cached = (details.cached_tokens or 0) if details is not None else 0
    billed = TokenUsage(
        prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens, cached_tokens=cached
    )
    return _sum_usage(total, billed)


def _describe_validation_error(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(map(str, error['loc'])) or 'reply'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return "; ".join(problems[:10])


def _mismatch(grade: LLMGrade, rubric: Rubric) -> str | None:
    try:
        grade.check_against(rubric)
    except ValueError as exc:
        return str(exc)
    return None


def _rejects_json_schema(exc: openai.BadRequestError) -> bool:
    text = f"{exc.message} {exc.body}".lower()
    return any(hint in text for hint in _JSON_SCHEMA_HINTS)


def _length_error(usage: TokenUsage) -> LLMOutputError:
    return LLMOutputError(
        "the reply hit the output token limit (raise MOCKINTERVIEW_LLM_MAX_OUTPUT_TOKENS)", retryable=False, usage=usage
    )


def _not_openai_compatible(problem: str, *, usage: TokenUsage | None = None) -> GraderUnavailableError:
    # A status 200 that is no chat completion: OPENAI_BASE_URL points at something else (a web page, a proxy's
    # login form); retrying or falling back would hide that.
    log.error("the LLM server's reply is not an OpenAI-compatible chat completion: %s", problem)
    return GraderUnavailableError(
        f"the LLM server's reply is not an OpenAI-compatible chat completion ({problem})", retryable=False, usage=usage
    )


def _service_error(exc: openai.OpenAIError) -> GraderUnavailableError:
    """Down (fall back) for timeouts, connection errors, 408, 409, 429 and 5xx; a configuration problem otherwise."""
    if isinstance(exc, openai.APITimeoutError):
        return LLMUnavailableError("the LLM did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailableError("could not reach the LLM server")
    if isinstance(exc, openai.RateLimitError):
        return LLMUnavailableError("the LLM provider kept rate-limiting us")
    if isinstance(exc, openai.InternalServerError):
        return LLMUnavailableError(f"the LLM server failed ({exc.status_code})")
    if isinstance(exc, openai.APIStatusError) and exc.status_code in _TRANSIENT_STATUSES:
        return LLMUnavailableError(f"the LLM server kept answering {exc.status_code}")
    if isinstance(exc, openai.APIStatusError):
        return _config_error(exc)
    return LLMUnavailableError(f"the LLM call failed: {type(exc).__name__}")


def _config_error(exc: openai.APIStatusError) -> GraderUnavailableError:
    # 400/401/403/404: retrying or falling back would hide a misconfiguration (key, model name, base URL).
    log.error("LLM request rejected (%s): %s", exc.status_code, exc.message)
    return GraderUnavailableError(f"the LLM server rejected the request ({exc.status_code})", retryable=False)
