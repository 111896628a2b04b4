"""Question selection: no repeats, due reviews first, weak topics and unseen questions favoured, topics mixed."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.models import Attempt, Question
from bot.core.session import ItemKind

UNSEEN_BONUS = 2.0  # a never-seen question is this much more likely than a mastered one
WEAK_TOPIC_BONUS = 3.0  # scaled by how weak the topic is (0 = mastered, 1 = nothing right)
WEAK_QUESTION_BONUS = 1.5  # a seen question whose best score is under the pass mark
SAME_TOPIC_DAMPING = 0.35  # after a topic is picked, its other questions' weights shrink by this factor


@dataclass(frozen=True)
class QuestionRecord:
    attempts: int
    best: float | None
    last_at: datetime


@dataclass(frozen=True)
class UserKnowledge:
    """What selection knows of a user, derived from their past attempts."""

    questions: dict[str, QuestionRecord]
    topic_average: dict[str, float]

    @classmethod
    def from_attempts(cls, attempts: Iterable[Attempt]) -> UserKnowledge:
        """Follow-ups are left out: they share their main question's id but are graded against a narrower prompt,
        so a good follow-up would pass a weak answer to the question itself off as mastered."""
        per_question: dict[str, list[Attempt]] = defaultdict(list)
        topic_scores: dict[str, list[float]] = defaultdict(list)
        for attempt in attempts:
            if attempt.kind == ItemKind.FOLLOW_UP:
                continue
            per_question[attempt.question_id].append(attempt)
            if attempt.grade is not None:
                topic_scores[attempt.topic].append(attempt.grade.score)
        questions = {
            qid: QuestionRecord(
                attempts=len(items),
                best=max((a.grade.score for a in items if a.grade is not None), default=None),
                last_at=max(a.created_at for a in items),
            )
            for qid, items in per_question.items()
        }
        averages = {topic: sum(scores) / len(scores) for topic, scores in topic_scores.items()}
        return cls(questions, averages)

    def weakness(self, topic: str) -> float:
        """0 for a topic answered perfectly, 1 for one answered with nothing right; 0.5 when unknown."""
        average = self.topic_average.get(topic)
        return 0.5 if average is None else max(0.0, min(1.0, (10.0 - average) / 10.0))


def question_weight(question: Question, knowledge: UserKnowledge) -> float:
    record = knowledge.questions.get(question.id)
    weight = 1.0 + WEAK_TOPIC_BONUS * knowledge.weakness(question.topic)
    if record is None:
        weight += UNSEEN_BONUS
    elif record.best is not None and record.best < 6.0:
        weight += WEAK_QUESTION_BONUS
    return weight


def choose_questions(
    pool: Sequence[Question],
    count: int,
    knowledge: UserKnowledge,
    rng: random.Random,
    *,
    due_first: Sequence[str] = (),
    exclude: Iterable[str] = (),
) -> list[Question]:
    """Pick up to `count` distinct questions: due reviews (in the given order) first, then a weighted draw."""
    excluded = set(exclude)
    by_id = {q.id: q for q in pool if q.id not in excluded}
    chosen: list[Question] = []
    for question_id in due_first:
        if len(chosen) == count:
            return chosen
        question = by_id.pop(question_id, None)
        if question is not None:
            chosen.append(question)

    weights = {qid: question_weight(q, knowledge) for qid, q in by_id.items()}
    for question in chosen:
        _damp_topic(weights, by_id, question.topic)
    while len(chosen) < count and weights:
        ids = sorted(weights)  # sorted: the same seed gives the same interview
        picked = rng.choices(ids, weights=[weights[i] for i in ids], k=1)[0]
        question = by_id[picked]
        chosen.append(question)
        del weights[picked]
        _damp_topic(weights, by_id, question.topic)
    return chosen


def _damp_topic(weights: dict[str, float], by_id: dict[str, Question], topic: str) -> None:
    for qid in weights:
        if by_id[qid].topic == topic:
            weights[qid] *= SAME_TOPIC_DAMPING
