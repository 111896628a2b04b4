"""The offline grader: key-point coverage by sentence-embedding similarity. No network, no key."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.models import GradeResult, KeyPointResult, Rubric, Verdict, count_words
from bot.grading.embeddings import CachedEncoder, MiniLMEncoder, SentenceEncoder
from bot.grading.text import (
    content_words,
    derive_key_points,
    latin_letter_ratio,
    looks_like_gibberish,
    split_sentences,
)

GRADER_NAME = "offline"


@dataclass(frozen=True)
class OfflineCalibration:
    """The mapping from cosine similarity to credit; fitted on calibration data (see docs/grading.md)."""

    floor: float = 0.30  # a key point's best similarity at or below this earns nothing
    covered_at: float = 0.65  # at or above this the point counts as covered
    partial_at: float = 0.48  # at or above this (and below covered_at) it counts as partly covered
    reference_weight: float = 0.3  # share of the score from whole-answer similarity to the reference
    misconception_margin: float = 0.03  # a sentence closer to a misconception than to the key points by this
    misconception_penalty: float = 0.2  # share of the score removed per misconception the answer states
    off_topic_below: float = 0.22  # nothing in the answer is this close to the material: off-topic
    short_answer_words: int = 5
    short_answer_cap: float = 2.0
    off_topic_cap: float = 1.0


@dataclass(frozen=True)
class _Evidence:
    key_points: list[str]
    best_similarity: list[float]
    best_sentence: list[str]
    reference_similarity: float
    misconceptions_stated: list[str]


class OfflineGrader:
    """Implements `core.ports.Grader` without any network."""

    name = GRADER_NAME

    def __init__(
        self,
        encoder_factory: Callable[[], SentenceEncoder] = MiniLMEncoder,
        calibration: OfflineCalibration | None = None,
    ) -> None:
        self._encoder_factory = encoder_factory
        self._encoder: CachedEncoder | None = None
        self._load_lock = threading.Lock()
        self.calibration = calibration or OfflineCalibration()

    @property
    def encoder(self) -> CachedEncoder:
        with self._load_lock:
            if self._encoder is None:
                self._encoder = CachedEncoder(self._encoder_factory())
            return self._encoder

    @property
    def model_id(self) -> str:
        return self.encoder.model_id

    def warm_up(self, rubrics: Sequence[Rubric] = ()) -> None:
        """Load the model and encode the rubrics' key points ahead of the first answer."""
        texts = [point for rubric in rubrics for point in self._key_points(rubric)]
        self.encoder.encode([*texts, *(r.reference_answer for r in rubrics)])

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        # Encoding is CPU-bound: keep it off the event loop so a bot stays responsive while grading.
        return await asyncio.to_thread(self.grade_sync, rubric, answer)

    def grade_sync(self, rubric: Rubric, answer: str) -> GradeResult:
        started = time.perf_counter()
        result = self._grade(rubric, answer.strip())
        return result.model_copy(update={"latency_ms": (time.perf_counter() - started) * 1000})

    # -- scoring -------------------------------------------------------------------------------------------------

    def _grade(self, rubric: Rubric, answer: str) -> GradeResult:
        key_points = self._key_points(rubric)
        degenerate = self._degenerate(answer, key_points)
        if degenerate is not None:
            return degenerate
        evidence = self._evidence(rubric, key_points, answer)
        cal = self.calibration
        credits = [self._credit(s) for s in evidence.best_similarity]
        coverage = float(np.mean(credits)) if credits else 0.0
        reference_credit = self._credit(evidence.reference_similarity)
        raw = (1 - cal.reference_weight) * coverage + cal.reference_weight * reference_credit
        raw *= max(0.0, 1 - cal.misconception_penalty * len(evidence.misconceptions_stated))
        score = round(10 * raw, 1)

        flags: list[str] = []
        notices: list[str] = []
        if count_words(answer) < cal.short_answer_words and score > cal.short_answer_cap:
            score, flags = cal.short_answer_cap, ["too-short"]
            notices.append("The answer is very short; explain the idea in a few sentences to earn more credit.")
        best_overall = max([*evidence.best_similarity, evidence.reference_similarity])
        if best_overall < cal.off_topic_below and score > cal.off_topic_cap:
            score, flags = cal.off_topic_cap, [*flags, "off-topic"]
            notices.append("The answer doesn't seem to address this question.")
        if self._repeats_question(rubric, answer) and score > cal.off_topic_cap:
            score, flags = cal.off_topic_cap, [*flags, "question-repeated"]
            notices.append("The answer mostly repeats the question; explain the answer in your own words.")
        if evidence.misconceptions_stated:
            flags.append("misconception")
        return self._result(score, rubric, evidence, flags, notices)

    def _credit(self, similarity: float) -> float:
        cal = self.calibration
        return float(np.clip((similarity - cal.floor) / (cal.covered_at - cal.floor), 0.0, 1.0))

    def _verdict(self, similarity: float) -> Verdict:
        if similarity >= self.calibration.covered_at:
            return Verdict.COVERED
        if similarity >= self.calibration.partial_at:
            return Verdict.PARTIAL
        return Verdict.MISSING

    @staticmethod
    def _key_points(rubric: Rubric) -> list[str]:
        return list(rubric.key_points) or derive_key_points(rubric.reference_answer)

    def _evidence(self, rubric: Rubric, key_points: list[str], answer: str) -> _Evidence:
        sentences = split_sentences(answer) or [answer]
        # Pairs of neighbouring sentences catch points that an answer spreads over two sentences.
        windows = [f"{a} {b}" for a, b in itertools.pairwise(sentences)]
        units = [*sentences, *windows]
        encoder = self.encoder
        unit_vectors = encoder.encode(units)
        point_vectors = encoder.encode(key_points)
        similarity = point_vectors @ unit_vectors.T  # (points, units)
        best_index = similarity.argmax(axis=1)
        best = similarity.max(axis=1)

        answer_vector = encoder.encode([answer])[0]
        reference_vector = encoder.encode([rubric.reference_answer])[0]
        misconceptions = list(rubric.misconceptions)
        stated: list[str] = []
        if misconceptions:
            sentence_vectors = unit_vectors[: len(sentences)]
            to_misconception = encoder.encode(misconceptions) @ sentence_vectors.T  # (misconceptions, sentences)
            to_points = similarity[:, : len(sentences)].max(axis=0)  # each sentence's closeness to any key point
            for index, text in enumerate(misconceptions):
                row = to_misconception[index]
                closest = int(row.argmax())
                if (
                    row[closest] >= self.calibration.partial_at
                    and row[closest] > to_points[closest] + self.calibration.misconception_margin
                ):
                    stated.append(text)
        return _Evidence(
            key_points=key_points,
            best_similarity=[float(s) for s in best],
            best_sentence=[units[int(i)] for i in best_index],
            reference_similarity=float(answer_vector @ reference_vector),
            misconceptions_stated=stated,
        )

    def _degenerate(self, answer: str, key_points: list[str]) -> GradeResult | None:
        """An explicit low grade with a clear message for answers that can't be graded on their content."""
        if not answer:
            return self._explicit_zero(key_points, "empty", "No answer was given.")
        if latin_letter_ratio(answer) < 0.5:
            return self._explicit_zero(
                key_points, "other-language", "The offline grader reads English answers only; please answer in English."
            )
        if looks_like_gibberish(answer):
            return self._explicit_zero(key_points, "gibberish", "The answer doesn't read as an explanation.")
        return None

    def _repeats_question(self, rubric: Rubric, answer: str) -> bool:
        answer_words = content_words(answer)
        if not answer_words:
            return False
        overlap = len(answer_words & content_words(rubric.question)) / len(answer_words)
        return overlap >= 0.8

    def _explicit_zero(self, key_points: list[str], flag: str, notice: str) -> GradeResult:
        return GradeResult(
            score=0.0,
            key_points=[KeyPointResult(key_point=p, verdict=Verdict.MISSING) for p in key_points],
            improvements=[f"Cover: {p}" for p in key_points],
            notices=[notice],
            flags=[flag],
            grader=GRADER_NAME,
            model=self.model_id if self._encoder is not None else None,
        )

    def _result(
        self, score: float, rubric: Rubric, evidence: _Evidence, flags: list[str], notices: list[str]
    ) -> GradeResult:
        results = [
            KeyPointResult(
                key_point=point,
                verdict=self._verdict(sim),
                evidence=_quote(sentence) if self._verdict(sim) != Verdict.MISSING else "",
                similarity=round(sim, 4),
            )
            for point, sim, sentence in zip(
                evidence.key_points, evidence.best_similarity, evidence.best_sentence, strict=True
            )
        ]
        covered = [r.key_point for r in results if r.verdict == Verdict.COVERED]
        partial = [r.key_point for r in results if r.verdict == Verdict.PARTIAL]
        missing = [r.key_point for r in results if r.verdict == Verdict.MISSING]
        return GradeResult(
            score=score,
            key_points=results,
            factual_errors=[
                f"The answer appears to claim a common misconception: {m}" for m in evidence.misconceptions_stated
            ],
            strengths=[f"Covered: {p}" for p in covered],
            improvements=[f"Develop further: {p}" for p in partial] + [f"Missing: {p}" for p in missing],
            reasoning=(
                f"{len(covered)} of {len(results)} key points covered, {len(partial)} partly; "
                f"similarity to the reference answer {evidence.reference_similarity:.2f}."
            ),
            notices=notices,
            flags=flags,
            grader=GRADER_NAME,
            model=self.model_id,
        )


def _quote(sentence: str, limit: int = 160) -> str:
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
