"""The calibration tool's pieces: the fixed split and the logistic fit."""

from __future__ import annotations

import numpy as np
import pytest

from bot.core.models import Rubric
from bot.grading.calibrate import HELD_ASIDE_BUCKETS, Row, fit_logistic, held_aside, held_aside_rows
from bot.grading.offline import FEATURES, OfflineCalibration


def test_split_is_by_question_and_stable():
    ids = [f"q{i}" for i in range(400)]
    first = [held_aside(i) for i in ids]
    assert first == [held_aside(i) for i in ids]
    share = sum(first) / len(ids)
    assert abs(share - 1 / HELD_ASIDE_BUCKETS) < 0.08


def test_fit_logistic_recovers_known_coefficients():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(20_000, 2))
    true = np.array([-0.5, 2.0, -1.0])
    p = 1 / (1 + np.exp(-(true[0] + x @ true[1:])))
    y = (rng.random(len(p)) < p).astype(np.float64)
    assert fit_logistic(x, y) == pytest.approx(true, abs=0.1)


def test_with_model_replaces_the_coefficients_in_feature_order():
    calibration = OfflineCalibration().with_model(-1.0, [1.0, 2.0, 3.0])
    assert calibration.intercept == -1.0
    assert calibration.coefficients() == (1.0, 2.0, 3.0)
    assert len(FEATURES) == 3


def test_rows_with_the_same_question_and_reference_stay_on_one_side_whatever_their_ids():
    # SemEval has a few identical question/reference pairs under different ids; eval sees them as one rubric.
    ids = [f"q{i}" for i in range(40)]
    aside = next(i for i in ids if held_aside(i))
    kept = next(i for i in ids if not held_aside(i))
    rubric = Rubric(question="Explain why the bulb is off.", reference_answer="The bulb is not in a closed path.")
    other = Rubric(question="Why does the bulb light?", reference_answer="It is in a closed path with the battery.")
    rows = [
        Row(question_id=aside, rubric=rubric, answer="a", score=1, score_max=1),
        Row(question_id=kept, rubric=rubric, answer="b", score=0, score_max=1),
        Row(question_id=aside, rubric=rubric, answer="c", score=1, score_max=1),
        Row(question_id=kept, rubric=other, answer="d", score=1, score_max=1),
    ]
    sides = held_aside_rows(rows)
    assert sides[0] == sides[1] == sides[2] == held_aside(min(aside, kept))
    assert sides[3] is False  # a different rubric under the same id keeps its id's side
