"""The offline grader's feedback: what it calls covered, and what it says about degenerate answers."""

from __future__ import annotations

import pytest

from bot.core.models import Rubric, Verdict

CASES = [
    # (question id, answer, a key point the answer does not state)
    (
        "gans.mode-collapse",
        "Mode collapse is when the generator makes few samples.",
        "Collapse arises because the generator optimises against the current discriminator rather than the full "
        "distribution.",
    ),
    (
        "agents.function-calling",
        "The model emits a structured call with a tool name and JSON arguments.",
        "The application, not the model, executes the tool and returns the result to the model.",
    ),
]


@pytest.mark.parametrize(("question_id", "answer", "unsaid"), CASES, ids=["mode-collapse", "function-calling"])
async def test_a_point_the_answer_never_makes_is_not_reported_as_covered(
    offline_grader, builtin_bank, question_id, answer, unsaid
):
    # One sentence about the subject is close in embedding space to several points; it covers the one it states.
    result = await offline_grader.grade(Rubric.from_question(builtin_bank.get(question_id)), answer)
    verdict = {kp.key_point: kp.verdict for kp in result.key_points}[unsaid]
    assert verdict != Verdict.COVERED
    assert f"Covered: {unsaid}" not in result.strengths
    assert result.verdicts(Verdict.COVERED)  # the point the sentence does make still is


async def test_an_answer_stating_every_point_has_every_point_covered(offline_grader, builtin_bank):
    question = builtin_bank.get("agents.function-calling")
    result = await offline_grader.grade(Rubric.from_question(question), " ".join(question.key_points))
    assert all(kp.verdict == Verdict.COVERED for kp in result.key_points)
