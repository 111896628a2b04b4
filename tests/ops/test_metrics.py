"""Prometheus metrics: what the recording functions put in the registry, and the metered grader."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.core.errors import GraderUnavailableError
from bot.core.models import GradeResult, Rubric, TokenUsage
from bot.ops import metrics as metrics_module
from bot.ops.metrics import MeteredGrader, Metrics

RUBRIC = Rubric(question="q?", reference_answer="r")


def samples(m: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(m.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def m() -> Metrics:
    return Metrics(CollectorRegistry())


def llm_grade(score: float = 7.0, **extra) -> GradeResult:
    return GradeResult(
        score=score,
        grader="llm",
        model="gpt-5-mini",
        usage=TokenUsage(prompt_tokens=1000, completion_tokens=200, cached_tokens=600, cost_usd=0.0012),
        latency_ms=1500,
        **extra,
    )


def test_observe_grade_counts_grades_latency_tokens_cost_and_flags(m):
    m.observe_grade(llm_grade(flags=["guard-capped"]))
    m.observe_grade(llm_grade())
    s = samples(m)
    assert s[("mockinterview_grades_total", (("grader", "llm"),))] == 2
    assert s[("mockinterview_grading_latency_seconds_count", (("grader", "llm"),))] == 2
    assert s[("mockinterview_grading_latency_seconds_sum", (("grader", "llm"),))] == pytest.approx(3.0)
    assert s[("mockinterview_llm_tokens_total", (("kind", "prompt"), ("model", "gpt-5-mini")))] == 2000
    assert s[("mockinterview_llm_tokens_total", (("kind", "completion"), ("model", "gpt-5-mini")))] == 400
    assert s[("mockinterview_llm_tokens_total", (("kind", "cached"), ("model", "gpt-5-mini")))] == 1200
    assert s[("mockinterview_llm_cost_usd_total", (("model", "gpt-5-mini"),))] == pytest.approx(0.0024)
    assert s[("mockinterview_grade_flags_total", (("flag", "guard-capped"),))] == 1


def test_offline_grades_cost_nothing_and_add_no_token_series(m):
    m.observe_grade(GradeResult(score=3, grader="offline", latency_ms=40))
    s = samples(m)
    assert s[("mockinterview_grades_total", (("grader", "offline"),))] == 1
    assert not any(name.startswith("mockinterview_llm_") for name, _ in s)


def test_interactions_ack_queue_depth_and_errors(m):
    m.count_interaction("command")
    m.count_interaction("command")
    m.count_interaction("component")
    with m.time_ack("modal"):
        pass
    m.observe_ack(4.0, "command")  # over Discord's 3 s: lands above the 3.0 bucket
    m.set_queue_depth({"queued": 5, "leased": 2})
    m.count_error("notifier")
    s = samples(m)
    assert s[("mockinterview_interactions_total", (("kind", "command"),))] == 2
    assert s[("mockinterview_ack_latency_seconds_count", (("kind", "modal"),))] == 1
    assert s[("mockinterview_ack_latency_seconds_bucket", (("kind", "command"), ("le", "3.0")))] == 0
    assert s[("mockinterview_ack_latency_seconds_bucket", (("kind", "command"), ("le", "5.0")))] == 1
    assert s[("mockinterview_grading_queue_jobs", (("status", "queued"),))] == 5
    assert s[("mockinterview_grading_queue_jobs", (("status", "leased"),))] == 2
    assert s[("mockinterview_grading_queue_jobs", (("status", "failed"),))] == 0  # every status is reported
    assert s[("mockinterview_errors_total", (("where", "notifier"),))] == 1


def test_queue_depth_gauge_follows_the_latest_counts(m):
    m.set_queue_depth({"queued": 9})
    m.set_queue_depth({"queued": 1})
    assert samples(m)[("mockinterview_grading_queue_jobs", (("status", "queued"),))] == 1


class _Grader:
    name = "llm"

    def __init__(self, outcome):
        self.outcome = outcome

    async def grade(self, rubric, answer):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


async def test_metered_grader_passes_the_grade_through_and_records_it(m):
    grade = llm_grade()
    assert await MeteredGrader(_Grader(grade), m).grade(RUBRIC, "a") is grade
    assert samples(m)[("mockinterview_grades_total", (("grader", "llm"),))] == 1


@pytest.mark.parametrize(
    ("error", "reason"),
    [(GraderUnavailableError("down"), "retryable"), (GraderUnavailableError("refused", retryable=False), "final")],
    ids=["retryable", "final"],
)
async def test_metered_grader_counts_failures_and_reraises(m, error, reason):
    with pytest.raises(GraderUnavailableError):
        await MeteredGrader(_Grader(error), m).grade(RUBRIC, "a")
    assert samples(m)[("mockinterview_grading_failures_total", (("grader", "llm"), ("reason", reason)))] == 1


async def test_metered_grader_counts_crashes_as_errors(m):
    with pytest.raises(ZeroDivisionError):
        await MeteredGrader(_Grader(ZeroDivisionError()), m).grade(RUBRIC, "a")
    s = samples(m)
    assert s[("mockinterview_grading_failures_total", (("grader", "llm"), ("reason", "crash")))] == 1
    assert s[("mockinterview_errors_total", (("where", "grader"),))] == 1


def test_module_functions_record_into_the_default_registry():
    before = metrics_module.METRICS.interactions.labels(kind="test-only")._value.get()
    metrics_module.count_interaction("test-only")
    assert metrics_module.METRICS.interactions.labels(kind="test-only")._value.get() == before + 1
