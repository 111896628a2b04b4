"""Agreement metrics between a grader and human scores (pure Python: used by `eval` and the calibration tool).

A metric that is undefined for the data (a correlation when one side is constant, anything on no rows) is `None`,
never a made-up number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None when fewer than two pairs or either side has no variance."""
    _check_pairs(xs, ys)
    # A constant side is tested directly: its rounded mean (0.1 three times averages to 0.10000000000000002)
    # would leave a variance of ~1e-34 and a made-up r instead of None.
    if len(xs) < 2 or min(xs) == max(xs) or min(ys) == max(ys):
        return None
    mx, my = mean(xs), mean(ys)
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


def ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1
        for position in range(start, end + 1):
            result[order[position]] = shared
        start = end + 1
    return result


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rho: Pearson's r of the (tie-averaged) ranks."""
    _check_pairs(xs, ys)
    return pearson(ranks(xs), ranks(ys))


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float | None:
    _check_pairs(predicted, actual)
    if not predicted:
        return None
    return math.sqrt(mean([(p - a) ** 2 for p, a in zip(predicted, actual, strict=True)]))


def accuracy(predicted: Sequence[bool], actual: Sequence[bool]) -> float | None:
    _check_pairs(predicted, actual)
    if not predicted:
        return None
    return sum(p == a for p, a in zip(predicted, actual, strict=True)) / len(predicted)


def f1(predicted: Sequence[bool], actual: Sequence[bool], positive: bool = True) -> float:
    """F1 of one class; 0 when the class is never predicted or never present (the usual convention)."""
    tp = sum(p == positive and a == positive for p, a in zip(predicted, actual, strict=True))
    fp = sum(p == positive and a != positive for p, a in zip(predicted, actual, strict=True))
    fn = sum(p != positive and a == positive for p, a in zip(predicted, actual, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def macro_f1(predicted: Sequence[bool], actual: Sequence[bool]) -> float | None:
    """Mean of the pass class's and the fail class's F1."""
    _check_pairs(predicted, actual)
    if not predicted:
        return None
    return (f1(predicted, actual, True) + f1(predicted, actual, False)) / 2


@dataclass(frozen=True)
class Agreement:
    """What `mockinterview eval` reports."""

    n: int
    pearson: float | None
    spearman: float | None
    rmse: float | None
    accuracy: float | None = None
    macro_f1: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        payload: dict[str, float | int | None] = {
            "n": self.n,
            "pearson": self.pearson,
            "spearman": self.spearman,
            "rmse": self.rmse,
        }
        if self.accuracy is not None or self.macro_f1 is not None:
            payload["accuracy"] = self.accuracy
            payload["macro_f1"] = self.macro_f1
        return payload


def agreement(
    predicted: Sequence[float],
    scores: Sequence[float],
    score_max: Sequence[float],
    pass_fraction: float,
) -> Agreement:
    """Agreement of normalised predictions (0-1) with human `scores` out of `score_max`.

    Correlations compare `predicted` with `score/score_max`; RMSE is on each row's own scale (predicted * score_max
    against score), with no fitting. When every row is binary (score_max 1), accuracy and macro-F1 compare
    `predicted >= pass_fraction` with `score == 1`.
    """
    _check_pairs(predicted, scores)
    _check_pairs(predicted, score_max)
    normalised = [s / m for s, m in zip(scores, score_max, strict=True)]
    on_scale = [p * m for p, m in zip(predicted, score_max, strict=True)]
    result = Agreement(
        n=len(predicted),
        pearson=pearson(predicted, normalised),
        spearman=spearman(predicted, normalised),
        rmse=rmse(on_scale, scores),
    )
    if predicted and all(m == 1 for m in score_max):
        passed = [p >= pass_fraction for p in predicted]
        gold = [s >= 1 for s in scores]
        return Agreement(
            n=result.n,
            pearson=result.pearson,
            spearman=result.spearman,
            rmse=result.rmse,
            accuracy=accuracy(passed, gold),
            macro_f1=macro_f1(passed, gold),
        )
    return result


def _check_pairs(xs: Sequence[object], ys: Sequence[object]) -> None:
    if len(xs) != len(ys):
        raise ValueError(f"paired sequences differ in length: {len(xs)} and {len(ys)}")
