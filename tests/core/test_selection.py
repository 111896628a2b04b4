"""Question selection properties: no repeats, due reviews first, weak topics and unseen questions favoured."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.models import Attempt, AttemptStatus, GradeResult
from bot.core.question_bank import load_bank
from bot.core.selection import UserKnowledge, choose_questions
from tests.core.conftest import FIXTURE_BANK

BANK = load_bank(FIXTURE_BANK)
POOL = list(BANK.questions.values())
IDS = [q.id for q in POOL]
NOW = datetime(2026, 11, 2, tzinfo=UTC)


def graded(question_id, score, n=0):
    question = BANK.get(question_id)
    return Attempt(
        id=n,
        user_id=1,
        question_id=question_id,
        topic=question.topic,
        answer="x",
        status=AttemptStatus.GRADED,
        created_at=NOW,
        grade=GradeResult(score=score, grader="test"),
    )


knowledge_strategy = st.lists(st.tuples(st.sampled_from(IDS), st.floats(min_value=0, max_value=10)), max_size=20).map(
    lambda pairs: UserKnowledge.from_attempts(graded(q, s, i) for i, (q, s) in enumerate(pairs))
)


@settings(max_examples=200, deadline=None)
@given(
    knowledge=knowledge_strategy,
    count=st.integers(min_value=0, max_value=15),
    seed=st.integers(),
    due=st.lists(st.sampled_from(IDS), unique=True, max_size=4),
    exclude=st.lists(st.sampled_from(IDS), unique=True, max_size=3),
)
def test_never_repeats_and_respects_count_due_order_and_exclusions(knowledge, count, seed, due, exclude):
    chosen = choose_questions(POOL, count, knowledge, random.Random(seed), due_first=due, exclude=exclude)
    ids = [q.id for q in chosen]
    assert len(ids) == len(set(ids))
    assert len(ids) == min(count, len(POOL) - len(exclude))
    assert not set(ids) & set(exclude)
    expected_due = [d for d in due if d not in exclude][:count]
    assert ids[: len(expected_due)] == expected_due


def test_same_seed_same_interview():
    knowledge = UserKnowledge.from_attempts([])
    first = choose_questions(POOL, 5, knowledge, random.Random(3))
    second = choose_questions(POOL, 5, knowledge, random.Random(3))
    assert first == second


def test_weak_topics_are_favoured():
    # alpha answered badly, beta and gamma answered perfectly: alpha should come first far more often.
    history = [graded("alpha.q1", 1.0, 1), graded("beta.q1", 10.0, 2), graded("gamma.q1", 10.0, 3)]
    knowledge = UserKnowledge.from_attempts(history)
    firsts = Counter(choose_questions(POOL, 1, knowledge, random.Random(seed))[0].topic for seed in range(3000))
    assert firsts["alpha"] > 1.5 * firsts["beta"]
    assert firsts["alpha"] > 1.5 * firsts["gamma"]


def test_unseen_questions_are_favoured_over_mastered_ones():
    history = [graded(q, 10.0, i) for i, q in enumerate(["alpha.q1", "alpha.q2"])]
    knowledge = UserKnowledge.from_attempts(history)
    alpha_pool = [q for q in POOL if q.topic == "alpha"]
    picks = Counter(choose_questions(alpha_pool, 1, knowledge, random.Random(s))[0].id for s in range(3000))
    assert picks["alpha.q3"] > 1.5 * picks["alpha.q1"]


def test_topics_are_mixed_when_no_topic_is_given():
    knowledge = UserKnowledge.from_attempts([])
    spreads = [len({q.topic for q in choose_questions(POOL, 3, knowledge, random.Random(s))}) for s in range(500)]
    assert sum(spreads) / len(spreads) > 2.3  # three topics most of the time, never one topic thrice by habit
