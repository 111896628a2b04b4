"""Keyword stuffing: a word salad of the key points' terms is capped and told to write an explanation."""

from __future__ import annotations

import random

import pytest

from bot.core.models import PASS_THRESHOLD, Rubric
from bot.grading.text import STOPWORDS, looks_like_keyword_list, words


def _salad(key_points: list[str]) -> str:
    """Every key point's content words, shuffled, one bullet per point."""
    lines = []
    for point in key_points:
        terms = [w for w in words(point) if w not in STOPWORDS]
        random.Random(0).shuffle(terms)
        lines.append("- " + " ".join(terms))
    return "\n".join(lines)


async def test_shuffled_key_point_words_do_not_pass(offline_grader, builtin_bank):
    question = builtin_bank.get("gans.mode-collapse")
    result = await offline_grader.grade(Rubric.from_question(question), _salad(question.key_points))
    assert result.score < PASS_THRESHOLD
    assert "keyword-list" in result.flags
    assert any("not a list of keywords" in notice for notice in result.notices)
    assert result.strengths == []  # an answer capped for its form is not praised for the points it seems to touch


def test_no_bank_question_reads_as_a_keyword_list_in_its_reference_or_its_key_points(builtin_bank):
    # Terse bullets of real sentences are prose: the key points as a bulleted list, and every reference answer.
    for question in builtin_bank.questions.values():
        assert not looks_like_keyword_list("\n".join(f"- {point}" for point in question.key_points)), question.id
        assert not looks_like_keyword_list(question.reference_answer), question.id
        assert looks_like_keyword_list(_salad(question.key_points)) or len(words(_salad(question.key_points))) < 16


@pytest.mark.parametrize(
    "answer",
    [
        "```python\nscores = q @ k.transpose(-2, -1) / math.sqrt(d_k)\nweights = torch.softmax(scores, dim=-1)\n"
        "out = weights @ v\n```\nThat is scaled dot-product attention.",
        "softmax(QK^T / sqrt(d_k)) V\nQ, K, V: query, key, value matrices; d_k: key dimension; scaling keeps "
        "gradients healthy",
        "Mode collapse: the generator produces only a few kinds of samples.",
    ],
    ids=["code", "formula", "short"],
)
def test_code_formulas_and_short_answers_are_not_keyword_lists(answer):
    assert not looks_like_keyword_list(answer)


async def test_a_good_bulleted_answer_is_not_flagged(offline_grader, builtin_bank):
    question = builtin_bank.get("gans.mode-collapse")
    answer = "\n".join(f"- {point}" for point in question.key_points)
    result = await offline_grader.grade(Rubric.from_question(question), answer)
    assert "keyword-list" not in result.flags and result.score >= PASS_THRESHOLD
