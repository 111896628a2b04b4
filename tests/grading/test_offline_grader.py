"""The offline grader on hand-written rubrics and answers (the real model; one grader per session)."""

from __future__ import annotations

import pytest

from bot.core.models import Rubric, Verdict
from bot.grading.embeddings import MiniLMEncoder
from bot.grading.offline import OfflineGrader

MODE_COLLAPSE = Rubric(
    question_id="gans.mode-collapse",
    question="What is mode collapse in a GAN, and how would you mitigate it?",
    reference_answer=(
        "Mode collapse happens when the generator produces only a few kinds of samples, covering a small part of "
        "the data distribution, because it found outputs that fool the current discriminator. Mitigations include "
        "minibatch discrimination, unrolled GANs, the Wasserstein loss with gradient penalty, and spectral norm."
    ),
    key_points=(
        "The generator produces only a few kinds of samples and ignores other modes of the data.",
        "It happens because the generator exploits outputs that fool the current discriminator.",
        "Minibatch discrimination lets the discriminator detect a lack of diversity.",
        "The Wasserstein loss with a gradient penalty gives more stable gradients.",
    ),
    misconceptions=("Mode collapse means the discriminator loss goes to zero and training has converged.",),
)
RAG = Rubric(
    question_id="rag.basics",
    question="What is retrieval-augmented generation and why use it?",
    reference_answer=(
        "Retrieval-augmented generation retrieves passages relevant to a query from an external index, usually by "
        "embedding similarity, and puts them into the prompt so the language model answers grounded in them. It "
        "reduces hallucination, lets the model use up-to-date or private knowledge without retraining, and allows "
        "citing sources."
    ),
    key_points=(
        "Relevant passages are retrieved from an external index, often by embedding similarity.",
        "The retrieved passages are added to the prompt as context for the model.",
        "Grounding in retrieved text reduces hallucinations.",
        "New or private knowledge can be used without retraining the model.",
    ),
    misconceptions=("RAG updates the model's weights with the retrieved documents.",),
)
ATTENTION = Rubric(
    question_id="transformers.self-attention",
    question="How does self-attention work in a transformer?",
    reference_answer=(
        "Each token is projected into a query, a key and a value. Attention weights are the softmax of the scaled "
        "dot products between a token's query and all keys, and the output is the weighted sum of the values. "
        "Multiple heads attend in parallel to different relations, and the cost grows quadratically with length."
    ),
    key_points=(
        "Each token is projected into query, key and value vectors.",
        "Weights are a softmax over scaled dot products of the query with every key.",
        "The output is the attention-weighted sum of the value vectors.",
        "Several heads attend in parallel and capture different relations.",
        "The cost grows quadratically with sequence length.",
    ),
)

ANSWERS = {
    "gans.mode-collapse": {
        "good": (
            "Mode collapse is when the generator only produces a handful of very similar samples and ignores most "
            "modes of the real data. It happens because the generator finds a few outputs that fool the current "
            "discriminator and keeps exploiting them. To mitigate it you can use minibatch discrimination, so the "
            "discriminator can see a lack of diversity across a batch, or switch to a Wasserstein loss with a "
            "gradient penalty, which gives smoother and more stable gradients."
        ),
        "partial": (
            "Mode collapse is when the generator produces only a few kinds of samples and ignores the other modes "
            "of the data, because it found outputs that fool the discriminator."
        ),
        "wrong": (
            "Mode collapse is when the learning rate is too high and the loss becomes NaN. You fix it by lowering "
            "the learning rate and adding dropout to the generator."
        ),
    },
    "rag.basics": {
        "good": (
            "RAG first retrieves passages relevant to the question from an external index, usually a vector store "
            "searched by embedding similarity. Those passages are inserted into the prompt as context, so the model "
            "answers grounded in them. That reduces hallucinations and lets the model use new or private knowledge "
            "without retraining it."
        ),
        "partial": "RAG looks up relevant documents in a vector database before the model answers.",
        "wrong": (
            "Retrieval-augmented generation is a way of compressing a language model so that it runs faster on a "
            "phone, by pruning its attention heads."
        ),
    },
    "transformers.self-attention": {
        "good": (
            "Every token is mapped to query, key and value vectors by learned projections. The attention weights "
            "are a softmax over the scaled dot products of a query with all the keys, and each output is the "
            "weighted sum of the values. Multiple heads run in parallel and learn different relations. The cost is "
            "quadratic in the sequence length."
        ),
        "partial": "Each token gets a query, a key and a value vector, and queries are compared to keys.",
        "wrong": (
            "Self-attention is a recurrent layer that reads the tokens one by one and keeps a hidden state that "
            "summarises everything read so far."
        ),
    },
}
UNRELATED = (
    "My favourite holiday was a week of hiking in the mountains; we cooked on a camp stove and watched the stars "
    "every night."
)
RUBRICS = {r.question_id: r for r in (MODE_COLLAPSE, RAG, ATTENTION)}


@pytest.mark.parametrize("question_id", list(RUBRICS))
def test_scores_order_good_partial_wrong_unrelated_empty(offline_grader, question_id):
    rubric, answers = RUBRICS[question_id], ANSWERS[question_id]
    good, partial, wrong, unrelated, empty = (
        offline_grader.grade_sync(rubric, text).score
        for text in (answers["good"], answers["partial"], answers["wrong"], UNRELATED, "")
    )
    assert good > partial > wrong > unrelated >= empty == 0.0
    assert good >= 6.0  # a complete answer passes
    assert unrelated <= 1.0


@pytest.mark.parametrize("question_id", list(RUBRICS))
def test_good_answer_covers_points_and_names_them_with_evidence(offline_grader, question_id):
    result = offline_grader.grade_sync(RUBRICS[question_id], ANSWERS[question_id]["good"])
    covered = result.verdicts(Verdict.COVERED)
    assert len(covered) >= len(result.key_points) - 1
    assert all(kp.evidence for kp in covered)
    assert result.strengths and result.grader == "offline" and result.model
    assert "misconception" not in result.flags


def test_partial_answer_lists_the_missed_points_as_improvements(offline_grader):
    result = offline_grader.grade_sync(MODE_COLLAPSE, ANSWERS["gans.mode-collapse"]["partial"])
    missed = [kp.key_point for kp in result.key_points if kp.verdict == Verdict.MISSING]
    assert any("Wasserstein" in point for point in missed)
    assert any("Wasserstein" in line for line in result.improvements)


@pytest.mark.parametrize(
    ("answer", "flag"),
    [
        ("", "empty"),
        ("   \n  ", "empty"),
        ("?!", "empty"),
        ("Режим коллапса — это когда генератор выдаёт одинаковые изображения.", "other-language"),
        ("El colapso de modos ocurre cuando el generador produce muestras muy parecidas entre sí.", "other-language"),
        ("asdkjh qwpeoiru zmxncbv lkjhgf", "gibberish"),
        ("What is mode collapse in a GAN, and how would you mitigate it?", "question-repeated"),
        ("Generator collapse.", "too-short"),
        (UNRELATED, "off-topic"),
    ],
    ids=["empty", "whitespace", "punctuation", "russian", "spanish", "gibberish", "repeated", "short", "off-topic"],
)
def test_degenerate_answers_get_a_low_score_a_flag_and_a_message(offline_grader, answer, flag):
    result = offline_grader.grade_sync(MODE_COLLAPSE, answer)
    assert flag in result.flags
    assert result.score <= 2.0
    assert result.notices and all(notice.strip() for notice in result.notices)


def test_stating_a_listed_misconception_is_flagged_and_penalised(offline_grader):
    base = "The generator produces only a few kinds of samples and ignores other modes of the data."
    with_misconception = base + " Mode collapse means the discriminator loss has gone to zero and training converged."
    clean = offline_grader.grade_sync(MODE_COLLAPSE, base)
    wrong = offline_grader.grade_sync(MODE_COLLAPSE, with_misconception)
    assert "misconception" in wrong.flags
    assert wrong.factual_errors
    assert wrong.score < clean.score


def test_rejecting_a_misconception_is_not_flagged(offline_grader):
    answer = ANSWERS["rag.basics"]["good"] + " RAG does not update the model's weights with the retrieved documents."
    result = offline_grader.grade_sync(RAG, answer)
    assert "misconception" not in result.flags


@pytest.mark.parametrize("question_id", list(RUBRICS))
def test_good_answers_never_trigger_the_misconception_check(offline_grader, question_id):
    rubric = RUBRICS[question_id]
    for text in (ANSWERS[question_id]["good"], rubric.reference_answer, " ".join(rubric.key_points)):
        assert "misconception" not in offline_grader.grade_sync(rubric, text).flags


def test_rubric_without_key_points_is_graded_against_the_reference(offline_grader):
    rubric = Rubric(
        question="Explain why you got a voltage reading of 1.5 for terminal 1 and the positive terminal.",
        reference_answer="Terminal 1 and the positive terminal are separated by the gap",
    )
    right = offline_grader.grade_sync(rubric, "terminal 1 is separated from the positive terminal by a gap")
    wrong = offline_grader.grade_sync(rubric, "because the bulb is broken and the battery is dead")
    assert [kp.key_point for kp in right.key_points] == [rubric.reference_answer]
    assert right.score >= 6.0 > wrong.score


def test_long_reference_without_key_points_derives_several_points(offline_grader):
    rubric = Rubric(question=RAG.question, reference_answer=RAG.reference_answer)
    result = offline_grader.grade_sync(rubric, ANSWERS["rag.basics"]["good"])
    assert len(result.key_points) >= 2
    assert result.score >= 6.0


async def test_async_grade_matches_the_sync_grade(offline_grader):
    answer = ANSWERS["rag.basics"]["partial"]
    assert (await offline_grader.grade(RAG, answer)).score == offline_grader.grade_sync(RAG, answer).score


def test_grade_many_gives_the_same_scores_as_one_by_one(offline_grader):
    items = [(RUBRICS[q], ANSWERS[q][kind]) for q in RUBRICS for kind in ("good", "partial", "wrong")]
    batched = [r.score for r in offline_grader.grade_many(items)]
    assert batched == [offline_grader.grade_sync(rubric, answer).score for rubric, answer in items]


class _CountingEncoder:
    """Wraps the session's real encoder and records every text it is asked to encode."""

    def __init__(self, inner: MiniLMEncoder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen.extend(texts)
        return self.inner.encode(texts)


def test_key_points_are_encoded_once_across_answers(offline_grader):
    counting = _CountingEncoder(offline_grader.encoder.inner)
    grader = OfflineGrader(encoder_factory=lambda: counting)
    grader.warm_up([MODE_COLLAPSE])
    for kind in ("good", "partial", "wrong"):
        grader.grade_sync(MODE_COLLAPSE, ANSWERS["gans.mode-collapse"][kind])
    for point in MODE_COLLAPSE.key_points:
        assert counting.seen.count(point) == 1
    assert counting.seen.count(MODE_COLLAPSE.misconceptions[0]) == 1
