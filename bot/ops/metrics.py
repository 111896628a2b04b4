"""Prometheus metrics: a `Metrics` object per registry, and small module-level functions over the default one.

Other modules call the functions (`metrics.observe_grade(grade)`, `metrics.count_interaction("command")`...);
tests build their own `Metrics(CollectorRegistry())` so nothing leaks between them. Label values are bounded
(grader names, model names, statuses, a fixed set of kinds), never user ids or free text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.core.errors import GraderUnavailableError
from bot.core.models import GradeResult, Rubric, TokenUsage
from bot.core.ports import Grader, close_grader

__all__ = ["CONTENT_TYPE_LATEST", "METRICS", "MeteredGrader", "Metrics"]

QUEUE_STATUSES = ("queued", "leased", "done", "failed")
_ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)  # Discord's deadline is 3 s
_GRADE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.interactions = Counter(
            "mockinterview_interactions", "Discord interactions handled, by kind.", ["kind"], registry=r
        )
        self.ack_latency = Histogram(
            "mockinterview_ack_latency_seconds",
            "Time from receiving an interaction to acknowledging it.",
            ["kind"],
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.grades = Counter("mockinterview_grades", "Answers graded, by grader.", ["grader"], registry=r)
        self.grading_latency = Histogram(
            "mockinterview_grading_latency_seconds",
            "Time to grade one answer, by grader.",
            ["grader"],
            buckets=_GRADE_BUCKETS,
            registry=r,
        )
        self.grade_flags = Counter(
            "mockinterview_grade_flags", "Grades carrying a flag (fallback, guard-capped...).", ["flag"], registry=r
        )
        self.grading_failures = Counter(
            "mockinterview_grading_failures", "Grading attempts that raised, by grader and reason.",
            ["grader", "reason"], registry=r,
        )  # fmt: skip
        self.tokens = Counter(
            "mockinterview_llm_tokens", "LLM tokens used, by model and kind.", ["model", "kind"], registry=r
        )
        self.cost = Counter(
            "mockinterview_llm_cost_usd", "Estimated LLM spend in USD, by model.", ["model"], registry=r
        )
        self.queue_depth = Gauge(
            "mockinterview_grading_queue_jobs", "Grading jobs by status (refreshed on scrape).", ["status"], registry=r
        )
        self.errors = Counter(
            "mockinterview_errors", "Unexpected errors, by where they happened.", ["where"], registry=r
        )

    # --- the functions other modules call

    def count_interaction(self, kind: str) -> None:
        self.interactions.labels(kind=kind).inc()

    def observe_ack(self, seconds: float, kind: str = "interaction") -> None:
        self.ack_latency.labels(kind=kind).observe(max(seconds, 0.0))

    def observe_grade(self, grade: GradeResult, seconds: float | None = None) -> None:
        """Count a stored-to-be grade: latency (its own `latency_ms` unless measured), tokens, cost and flags."""
        self.grades.labels(grader=grade.grader).inc()
        latency = seconds if seconds is not None else grade.latency_ms / 1000
        self.grading_latency.labels(grader=grade.grader).observe(max(latency, 0.0))
        for flag in grade.flags:
            self.grade_flags.labels(flag=flag).inc()
        self.observe_usage(grade.usage, grade.model)

    def observe_usage(self, usage: TokenUsage, model: str | None) -> None:
        """Count LLM tokens and cost, of a grade or of a failed attempt (its tokens were billed all the same)."""
        if usage.prompt_tokens or usage.completion_tokens:
            label = model or "unknown"
            self.tokens.labels(model=label, kind="prompt").inc(usage.prompt_tokens)
            self.tokens.labels(model=label, kind="completion").inc(usage.completion_tokens)
            self.tokens.labels(model=label, kind="cached").inc(usage.cached_tokens)
            self.cost.labels(model=label).inc(max(usage.cost_usd, 0.0))

    def observe_grading_failure(self, grader: str, reason: str) -> None:
        self.grading_failures.labels(grader=grader, reason=reason).inc()

    def set_queue_depth(self, counts: Mapping[str, int]) -> None:
        for status in {*QUEUE_STATUSES, *counts}:
            self.queue_depth.labels(status=status).set(counts.get(status, 0))

    def count_error(self, where: str) -> None:
        self.errors.labels(where=where).inc()

    @contextmanager
    def time_ack(self, kind: str = "interaction") -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observe_ack(time.perf_counter() - started, kind)

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)


class MeteredGrader:
    """A `Grader` that records every grade (or failure) in `metrics` and otherwise changes nothing."""

    def __init__(self, grader: Grader, metrics: Metrics) -> None:
        self._grader = grader
        self._metrics = metrics
        self.name = grader.name

    async def aclose(self) -> None:
        await close_grader(self._grader)

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        started = time.perf_counter()
        try:
            grade = await self._grader.grade(rubric, answer)
        except GraderUnavailableError as error:
            self._metrics.observe_grading_failure(self.name, "retryable" if error.retryable else "final")
            self._metrics.observe_usage(error.usage, error.model)
            raise
        except Exception:
            self._metrics.observe_grading_failure(self.name, "crash")
            self._metrics.count_error("grader")
            raise
        self._metrics.observe_grade(grade, time.perf_counter() - started)
        return grade


# The process-wide default, exposed by the ops server; the functions below are its methods.
METRICS = Metrics()
count_interaction = METRICS.count_interaction
observe_ack = METRICS.observe_ack
observe_grade = METRICS.observe_grade
observe_grading_failure = METRICS.observe_grading_failure
observe_usage = METRICS.observe_usage
set_queue_depth = METRICS.set_queue_depth
count_error = METRICS.count_error
time_ack = METRICS.time_ack
