"""Bad inputs through the Discord rendering helpers that exist: every page respects Discord's limits.

A grade's free text (evidence quotes, reasoning, strengths, follow-up) can repeat the candidate's answer, so the
corpus is pushed through those fields. Mentions are not escaped by rendering; `allowed_mentions` none on the client
and on every send is what stops pings, and the end-to-end Discord suites check that against the loopback Discord.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.core.models import Attempt, AttemptStatus, GradeResult, KeyPointResult, Verdict, storable_text
from tests.reliability._corpus import CORPUS, IDS

render = pytest.importorskip("bot.discord_app.exts.interview._render", reason="the Discord adapter is not here")
embeds = pytest.importorskip("bot.discord_app.embeds")


@pytest.fixture(scope="module")
def bank(builtin_bank):
    return builtin_bank


def attempt_with(text: str, bank) -> Attempt:
    question = bank.questions["gans.mode-collapse"]
    grade = GradeResult(
        score=1.0,
        key_points=[KeyPointResult(key_point=kp, verdict=Verdict.PARTIAL, evidence=text) for kp in question.key_points],
        factual_errors=[text],
        strengths=[text, text],
        improvements=[text],
        follow_up=text,
        reasoning=text,
        notices=[text],
        grader="llm",
    )
    return Attempt(
        id=1,
        user_id=2,
        question_id=question.id,
        topic=question.topic,
        answer=text,
        status=AttemptStatus.GRADED,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        grade=grade,
    )


def assert_pages_fit(pages) -> None:
    assert pages and all(page for page in pages)
    for page in pages:
        assert embeds.embed_fits(page), [(len(e), len(e.description or ""), len(e.fields)) for e in page]


@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_feedback_history_and_share_pages_respect_every_limit(bank, entry):
    text = storable_text(entry.text(bank.questions["gans.mode-collapse"].question))
    attempt = attempt_with(text, bank)
    pages, _ = render.feedback_message(SimpleNamespace(bank=bank), attempt, None)
    assert_pages_fit(pages)
    assert_pages_fit(render.history_pages(bank, [attempt] * 30, None))
    assert embeds.embed_fits([render.share_embed(bank, attempt, display_name=text)])
