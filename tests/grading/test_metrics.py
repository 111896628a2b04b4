"""Agreement metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from bot.core.metrics import accuracy, agreement, f1, macro_f1, pearson, ranks, rmse, spearman


def test_pearson_of_a_hand_computed_pair_is_0_6():
    # dx = dy = (-1.5, -0.5, 0.5, 1.5) permuted: sxy = 3, sxx = syy = 5.
    assert pearson([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)


def test_pearson_is_none_when_one_side_is_constant():
    assert pearson([1, 2, 3], [5, 5, 5]) is None
    assert pearson([1], [2]) is None


def test_pearson_is_none_for_a_constant_side_whose_mean_does_not_round_exactly():
    assert pearson([0.1] * 3, [0.0, 0.2, 0.9]) is None  # mean(0.1, 0.1, 0.1) is 0.10000000000000002
    every_human_gave_7 = agreement([0.2, 0.5, 0.9], [7, 7, 7], [10, 10, 10], 0.6)
    assert (every_human_gave_7.pearson, every_human_gave_7.spearman) == (None, None)


def test_ranks_share_the_mean_rank_between_ties():
    assert ranks([10, 20, 20, 30]) == [1.0, 2.5, 2.5, 4.0]


def test_spearman_is_pearson_of_ranks_for_a_monotone_but_nonlinear_pair():
    assert spearman([1, 2, 3, 4], [1, 8, 27, 64]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [1, 8, 27, 64]) < 1.0


def test_spearman_with_ties_matches_hand_computation():
    # ranks x = (1, 2.5, 2.5, 4), ranks y = (1, 2, 3, 4): sxy = 4.5, sxx = 4.5, syy = 5.
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))


def test_rmse_of_hand_computed_errors():
    assert rmse([0.5, 1.0], [0.0, 1.0]) == pytest.approx(math.sqrt(0.125))


def test_accuracy_and_f1_of_hand_computed_confusions():
    predicted = [True, True, True, False]
    actual = [True, True, False, False]
    assert accuracy(predicted, actual) == 0.75
    assert f1(predicted, actual, True) == pytest.approx(0.8)  # tp 2, fp 1, fn 0
    assert f1(predicted, actual, False) == pytest.approx(2 / 3)  # tp 1, fp 0, fn 1
    assert macro_f1(predicted, actual) == pytest.approx((0.8 + 2 / 3) / 2)


def test_f1_of_a_class_never_predicted_is_zero():
    assert f1([False, False], [True, False], True) == 0.0


def test_agreement_on_a_binary_file_reports_accuracy_and_macro_f1():
    result = agreement([0.9, 0.6, 0.59, 0.1], [1, 0, 1, 0], [1, 1, 1, 1], pass_fraction=0.6)
    # passes predicted: T, T, F, F against T, F, T, F
    assert result.accuracy == 0.5
    assert result.macro_f1 == pytest.approx(0.5)
    assert set(result.as_dict()) == {"n", "pearson", "spearman", "rmse", "accuracy", "macro_f1"}


def test_agreement_on_a_graded_scale_reports_rmse_on_the_files_own_scale_and_no_binary_metrics():
    result = agreement([0.5, 1.0], [2, 3], [4, 4], pass_fraction=0.6)
    assert result.rmse == pytest.approx(math.sqrt(0.5))  # (2 - 2, 4 - 3) on the 0-4 scale
    assert result.pearson == pytest.approx(1.0)
    assert set(result.as_dict()) == {"n", "pearson", "spearman", "rmse"}


def test_paired_sequences_of_different_length_are_rejected():
    with pytest.raises(ValueError, match="differ in length"):
        pearson([1, 2], [1])
