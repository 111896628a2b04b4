"""The calibration tool's pieces: the fixed split and the logistic fit."""

from __future__ import annotations

import numpy as np
import pytest

from bot.grading.calibrate import HELD_ASIDE_BUCKETS, fit_logistic, held_aside
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
