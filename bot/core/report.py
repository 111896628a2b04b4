"""The end-of-interview report: overall score, per-topic breakdown, strongest and weakest points, what to study
next (linked to bank questions), and the trend against the user's earlier interviews (their overall scores, worked
out the same way)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from bot.core.question_bank import QuestionBank
from bot.core.session import InterviewSession, ItemKind, ItemOutcome, ItemResult

FOLLOW_UP_WEIGHT = 0.2  # follow-up answers count for this share of their question's score
STUDY_SUGGESTIONS = 3


class QuestionScore(BaseModel):
    model_config = ConfigDict(frozen=True)

    question_id: str
    topic: str
    question: str
    score: float  # 0-10: best try at the main question, blended with follow-ups (0 while not graded)
    outcome: ItemOutcome  # FAILED: every try at it is still without a grade (the grader was down): not scored


class TopicBreakdown(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    questions: int
    average: float


class StudySuggestion(BaseModel):
    model_config = ConfigDict(frozen=True)

    question_id: str
    topic: str
    focus: str  # the key point to study, or the question itself when nothing was answered


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    session_id: int | None
    overall: float  # 0-10 over every planned question asked and scored (skips count as 0; not graded ones don't)
    answered: int  # questions answered and graded
    skipped: int  # skipped or revealed
    not_graded: int = 0  # answered, but the grader failed on every try: left out of the scores (not a 0)
    still_grading: int = 0  # answers still being graded when the interview ended: the report counts them once graded
    questions: list[QuestionScore]
    topics: list[TopicBreakdown]
    strongest_points: list[str]
    weakest_points: list[str]
    study_next: list[StudySuggestion]
    previous_average: float | None  # the mean overall score of the user's earlier interviews (scored the same way)
    trend: float | None  # overall - previous_average


def question_scores(session: InterviewSession, bank: QuestionBank) -> list[QuestionScore]:
    by_question: dict[str, list[ItemResult]] = defaultdict(list)
    for result in session.results:
        by_question[result.question_id].append(result)
    scores: list[QuestionScore] = []
    for question_id in session.asked_question_ids():
        results = by_question.get(question_id, [])
        if not results:
            continue  # asked when the interview ended, never answered nor skipped
        main = [r for r in results if r.kind in (ItemKind.MAIN, ItemKind.RETRY)]
        follow_ups = [r.score for r in results if r.kind == ItemKind.FOLLOW_UP and r.outcome == ItemOutcome.GRADED]
        best_main = max((r.score for r in main), default=0.0)
        score = best_main
        if follow_ups:
            score = (1 - FOLLOW_UP_WEIGHT) * best_main + FOLLOW_UP_WEIGHT * (sum(follow_ups) / len(follow_ups))
        outcome = _outcome(main)
        question = bank.questions.get(question_id)
        scores.append(
            QuestionScore(
                question_id=question_id,
                topic=question.topic if question else results[0].topic,
                question=question.question if question else question_id,
                score=round(score, 2),
                outcome=outcome,
            )
        )
    return scores


def _best_try(main: Sequence[ItemResult]) -> ItemResult | None:
    """A question's best try among the main answer and its retries: the highest score, a graded one before a skip
    or reveal of the same score, and a failed grading only when every try failed (None: no try at all)."""
    settled = [r for r in main if r.outcome != ItemOutcome.FAILED] or list(main)
    return max(settled, key=lambda r: (r.score, r.outcome == ItemOutcome.GRADED), default=None)


def _outcome(main: Sequence[ItemResult]) -> ItemOutcome:
    best = _best_try(main)
    return best.outcome if best is not None else ItemOutcome.SKIPPED


def _counted_results(session: InterviewSession) -> list[ItemResult]:
    """The results whose key points the report counts: each question's best try (so a point missed on the first
    answer and covered on a retry counts as covered only) and its follow-ups, in the order asked."""
    tries: dict[str, list[ItemResult]] = defaultdict(list)
    for result in session.results:
        if result.kind in (ItemKind.MAIN, ItemKind.RETRY):
            tries[result.question_id].append(result)
    best = {id(b) for b in (_best_try(t) for t in tries.values()) if b is not None}
    return [r for r in session.results if r.kind == ItemKind.FOLLOW_UP or id(r) in best]


def _scored(score: QuestionScore) -> bool:
    """Whether a question counts in the scores: not when its answers are saved but have no grade yet (the grader was
    down; they can be regraded later), which would otherwise count as a 0 the candidate never earned."""
    return score.outcome != ItemOutcome.FAILED


def scored_overall(session: InterviewSession, bank: QuestionBank) -> float | None:
    """A session's overall score as its report gives it (None when no question in it was scored): what an earlier
    interview contributes to a later report's trend, so the trend compares like with like."""
    scored = [s for s in question_scores(session, bank) if _scored(s)]
    return _mean(scored)


def _mean(scored: Sequence[QuestionScore]) -> float | None:
    return round(sum(s.score for s in scored) / len(scored), 2) if scored else None


def unscored_notes(report: Report) -> list[str]:
    """What the headline says of answers the scores leave out, in the words every adapter uses."""
    notes = []
    if report.not_graded:
        notes.append(f"{report.not_graded} not graded (grading failed; not counted)")
    if report.still_grading:
        notes.append(f"{report.still_grading} still being graded (counted once graded)")
    return notes


def build_report(session: InterviewSession, bank: QuestionBank, previous_scores: Sequence[float] = ()) -> Report:
    """`previous_scores`: the overall scores of the user's earlier interviews (`scored_overall`), for the trend."""
    scores = question_scores(session, bank)
    scored = [s for s in scores if _scored(s)]
    overall = _mean(scored) or 0.0
    topics: dict[str, list[float]] = defaultdict(list)
    for s in scored:
        topics[s.topic].append(s.score)
    covered: dict[str, int] = defaultdict(int)
    missed: dict[str, int] = defaultdict(int)
    counted = _counted_results(session)
    for result in counted:
        for point in result.key_points_covered:
            covered[point] += 1
        for point in result.key_points_missed:
            missed[point] += 1
    previous = round(sum(previous_scores) / len(previous_scores), 2) if previous_scores else None
    return Report(
        session_id=session.id,
        overall=overall,
        answered=sum(1 for s in scores if s.outcome == ItemOutcome.GRADED),
        skipped=sum(1 for s in scores if s.outcome in (ItemOutcome.SKIPPED, ItemOutcome.REVEALED)),
        not_graded=sum(1 for s in scores if not _scored(s)),
        still_grading=0 if session.live or session.pending_attempt_id is None else 1,
        questions=scores,
        topics=[
            TopicBreakdown(topic=t, questions=len(v), average=round(sum(v) / len(v), 2))
            for t, v in sorted(topics.items())
        ],
        strongest_points=sorted(covered, key=lambda p: -covered[p])[:3],
        weakest_points=sorted(missed, key=lambda p: -missed[p])[:3],
        study_next=_study_next(counted, scored),
        previous_average=previous,
        trend=round(overall - previous, 2) if previous is not None and scored else None,
    )


def _study_next(counted: Sequence[ItemResult], scores: Sequence[QuestionScore]) -> list[StudySuggestion]:
    """The weakest questions first; for each, the key points missed (or the question itself if skipped)."""
    suggestions: list[StudySuggestion] = []
    missed_by_question: dict[str, list[str]] = defaultdict(list)
    for result in counted:
        for point in result.key_points_missed:
            if point not in missed_by_question[result.question_id]:
                missed_by_question[result.question_id].append(point)
    weak = [s for s in sorted(scores, key=lambda s: s.score) if s.score < 8.5]
    focuses = {s.question_id: missed_by_question.get(s.question_id) or [s.question] for s in weak}
    # One point per weak question first, so the three suggestions span questions rather than repeat one.
    for round_index in range(max((len(f) for f in focuses.values()), default=0)):
        for s in weak:
            if round_index < len(focuses[s.question_id]):
                suggestions.append(
                    StudySuggestion(question_id=s.question_id, topic=s.topic, focus=focuses[s.question_id][round_index])
                )
                if len(suggestions) == STUDY_SUGGESTIONS:
                    return suggestions
    return suggestions
