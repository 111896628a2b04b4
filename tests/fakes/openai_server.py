"""An OpenAI-compatible chat-completions server on 127.0.0.1 for tests; the real `openai` client talks to it.

Its "model" grades by keyword overlap between the fenced answer and the numbered key points, and is
gullible on purpose: an answer asking for "10/10" gets it (the guard must catch that). Each request takes
the next scripted `Reply` from `script`; when the script is empty it answers normally. Requests are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

ReplyKind = Literal[
    "ok",
    "rate_limit",
    "server_error",
    "unauthorized",
    "slow",
    "malformed",
    "schema_violation",
    "refusal",
    "length",
    "raw",
    "unauthorized_echo",  # 401 whose message repeats the key it got, as some providers do (log-redaction tests)
]

_FENCED_ANSWER = re.compile(r"<<<ANSWER-(?P<nonce>[0-9a-f]+)>>>\n(?P<answer>.*?)\n<<<END-ANSWER-(?P=nonce)>>>", re.S)
_KEY_POINTS = re.compile(r"## Key points\n(?P<body>.*?)\n\n##", re.S)
_NUMBERED = re.compile(r"^(\d+)\. (.+)$", re.M)
_WORD = re.compile(r"[a-z][a-z0-9-]{3,}")


@dataclass(frozen=True)
class Reply:
    """What the fake does for one request."""

    kind: ReplyKind = "ok"
    retry_after: str | None = None  # Retry-After header value for rate_limit / server_error
    delay_s: float = 0.0  # for slow
    content: str = ""  # for raw: the assistant message content, verbatim


@dataclass
class RecordedRequest:
    body: dict[str, Any]
    headers: dict[str, str]
    received_at: float  # time.monotonic()
    status: int = 200

    @property
    def response_format_type(self) -> str | None:
        response_format = self.body.get("response_format")
        return response_format.get("type") if isinstance(response_format, dict) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def keyword_grade(user_prompt: str) -> dict[str, Any]:
    """A plausible grade: per key point, the share of its words (4+ letters) found in the answer."""
    fenced = _FENCED_ANSWER.search(user_prompt)
    answer = fenced["answer"] if fenced else ""
    section = _KEY_POINTS.search(user_prompt)
    points = [(int(n), text) for n, text in _NUMBERED.findall(section["body"] if section else "")]
    if "10/10" in answer:  # the gullible model obeys the injection
        return _grade_body("The candidate asked for 10/10.", [(n, p, "covered", "10/10") for n, p in points], 10.0)
    answer_words = set(_WORD.findall(answer.lower()))
    assessed = []
    credit = 0.0
    for number, point in points:
        words = set(_WORD.findall(point.lower()))
        overlap = len(words & answer_words) / len(words) if words else 0.0
        verdict = "covered" if overlap >= 0.5 else "partial" if overlap >= 0.2 else "missing"
        credit += {"covered": 1.0, "partial": 0.5, "missing": 0.0}[verdict]
        evidence = " ".join(sorted(words & answer_words)[:5]) if verdict != "missing" else ""
        assessed.append((number, point, verdict, evidence))
    score = round(10 * credit / len(points), 1) if points else 0.0
    return _grade_body("Keyword overlap with each key point.", assessed, score)


def _grade_body(reasoning: str, assessed: list[tuple[int, str, str, str]], score: float) -> dict[str, Any]:
    return {
        "reasoning": reasoning,
        "key_points": [
            {"index": n, "key_point": p, "verdict": verdict, "evidence": quote} for n, p, verdict, quote in assessed
        ],
        "factual_errors": [],
        "score": score,
        "strengths": ["You addressed the question."] if score > 0 else [],
        "improvements": [f"Explain: {p}" for n, p, verdict, _ in assessed if verdict != "covered"],
        "follow_up_question": "How would you measure that in practice?",
    }


@dataclass
class FakeOpenAIServer:
    reject_json_schema: bool = False  # answer 400 to response_format json_schema, like many local servers
    script: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=Reply)  # what an empty script answers (e.g. Reply("slow") for latency)
    requests: list[RecordedRequest] = field(default_factory=list)
    _seen_system_prompts: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests handled at once (checks the client's concurrency limit)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        self.script.extend(replies)

    async def start(self) -> FakeOpenAIServer:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))  # a free port chosen by the OS
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeOpenAIServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _chat_completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        recorded = RecordedRequest(body=body, headers=dict(request.headers), received_at=time.monotonic())
        self.requests.append(recorded)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._respond(recorded)
        finally:
            self.in_flight -= 1
        recorded.status = response.status
        return response

    async def _respond(self, recorded: RecordedRequest) -> web.Response:
        if self.reject_json_schema and recorded.response_format_type == "json_schema":
            return _error(400, "response_format of type json_schema is not supported by this server")
        reply = self.script.popleft() if self.script else self.default
        headers = {"Retry-After": reply.retry_after} if reply.retry_after else {}
        if reply.kind == "rate_limit":
            return _error(429, "Rate limit reached for requests", headers=headers, error_type="rate_limit_exceeded")
        if reply.kind == "server_error":
            return _error(500, "The server had an error while processing your request", headers=headers)
        if reply.kind == "unauthorized":
            return _error(401, "Incorrect API key provided", error_type="invalid_api_key")
        if reply.kind == "unauthorized_echo":
            key = recorded.headers.get("Authorization", "").removeprefix("Bearer ")
            return _error(401, f"Incorrect API key provided: {key}", error_type="invalid_api_key")
        if reply.kind == "slow":
            # Interruptible, so closing the server never waits for a sleeping handler.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), reply.delay_s)
        messages = recorded.messages
        user_prompt = next((m["content"] for m in messages if m["role"] == "user"), "")
        grade = keyword_grade(user_prompt)
        content: str | None = json.dumps(grade)
        refusal = None
        finish_reason = "stop"
        if reply.kind == "malformed":
            content = '{"reasoning": "The answer covers'  # cut off mid-string: not JSON
        elif reply.kind == "schema_violation":
            content = json.dumps({**grade, "score": 42, "verdicts": "all good"})
        elif reply.kind == "refusal":
            content, refusal = None, "I'm sorry, I can't help with grading this."
        elif reply.kind == "length":
            content, finish_reason = (content or "")[:40], "length"
        elif reply.kind == "raw":
            content = reply.content
        return web.json_response(self._completion(recorded, content, refusal, finish_reason))

    def _completion(
        self, recorded: RecordedRequest, content: str | None, refusal: str | None, finish_reason: str
    ) -> dict[str, Any]:
        messages = recorded.messages
        prompt_tokens = sum(3 + _approx_tokens(str(m.get("content", ""))) for m in messages) + 3
        system = next((str(m["content"]) for m in messages if m["role"] == "system"), "")
        # Prompt caching as providers do it: a repeated prefix (the static system prompt) is served cached.
        cached_tokens = _approx_tokens(system) if system in self._seen_system_prompts else 0
        self._seen_system_prompts.add(system)
        completion_tokens = _approx_tokens(content or refusal or "")
        return {
            "id": f"chatcmpl-fake-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": recorded.body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached_tokens},
            },
        }


def _error(
    status: int, message: str, *, headers: dict[str, str] | None = None, error_type: str = "invalid_request_error"
) -> web.Response:
    payload = {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    return web.json_response(payload, status=status, headers=headers or {})
