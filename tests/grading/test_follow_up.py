"""A follow-up is graded on the part of the question's reference it asks about, not on the whole reference."""

from __future__ import annotations

from bot.core.models import PASS_THRESHOLD, Rubric
from bot.grading.text import derive_key_points

# A correct answer to "Why does rendering markdown images in a chat UI create a data-exfiltration channel?"
EXFILTRATION_ANSWER = (
    "A chat UI that renders markdown fetches any image URL automatically. An injected instruction can make the "
    "model write an image link whose URL contains the user's private data, for example in the query string, so the "
    "browser sends that data to the attacker's server without any click. Blocking external images or allowlisting "
    "domains closes the channel."
)


def _follow_up_rubric(question, index: int) -> Rubric:
    # What InterviewService.rubric_for builds for a follow-up: the follow-up's wording, the question's reference and
    # misconceptions, no key points.
    return Rubric(
        question=question.follow_ups[index],
        reference_answer=question.reference_answer,
        misconceptions=tuple(question.misconceptions),
        question_id=question.id,
        follow_up=True,
    )


async def test_a_correct_follow_up_answer_passes_on_the_reference_sentence_it_asks_about(offline_grader, builtin_bank):
    question = builtin_bank.get("ethics-safety.prompt-injection")
    rubric = _follow_up_rubric(question, 1)
    assert "markdown images" in rubric.question
    result = await offline_grader.grade(rubric, EXFILTRATION_ANSWER)
    assert [kp.key_point for kp in result.key_points] == [
        "Exfiltration often uses markdown images or links whose URLs carry stolen data."
    ]
    assert result.score >= PASS_THRESHOLD


async def test_a_follow_up_still_fails_answers_that_miss_it(offline_grader, builtin_bank):
    question = builtin_bank.get("ethics-safety.prompt-injection")
    rubric = _follow_up_rubric(question, 1)
    echo = await offline_grader.grade(rubric, rubric.question)
    elsewhere = await offline_grader.grade(rubric, builtin_bank.get("gans.mode-collapse").reference_answer)
    assert echo.score <= 1.0 and elsewhere.score < 2.0


def test_rubrics_without_a_bank_question_grade_against_the_whole_reference(offline_grader, builtin_bank):
    # An eval row (or any rubric naming no bank question): its reference answers exactly its question.
    reference = builtin_bank.get("ethics-safety.prompt-injection").reference_answer
    rubric = Rubric(
        question="Why does rendering markdown images create an exfiltration channel?", reference_answer=reference
    )
    assert offline_grader.key_points(rubric) == derive_key_points(reference)
