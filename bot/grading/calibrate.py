"""Fit the offline grader's constants on human-graded short answers and report held-aside agreement.

    python -m bot.grading.calibrate ../shared/calibration/semeval2013_train.csv [--json]

A developer tool: the product never needs the data. The file needs `question_id, question, reference_answer,
student_answer, score, score_max`. Questions (not rows) are split by a fixed hash into a fit part and a held-aside
part, so no question's answers are on both sides (rows whose question and reference are the same text count as one
question). On the fit part the tool fits the logistic model over
`offline.FEATURES` (Newton's method with a small ridge), then shifts the intercept to the value that maximises macro-F1
at the pass threshold on the fit part. It prints the new constants (paste them into `OfflineCalibration`) and the
metrics of the full grader, degenerate-answer rules included, on the held-aside part and on the whole file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.core.metrics import Agreement, agreement, macro_f1
from bot.core.models import MAX_SCORE, PASS_THRESHOLD, Rubric
from bot.grading.offline import FEATURES, OfflineCalibration, OfflineGrader

HELD_ASIDE_BUCKETS = 4  # one question in four (by hash) is held aside
RIDGE = 1e-3

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Row:
    question_id: str
    rubric: Rubric
    answer: str
    score: float
    score_max: float


def held_aside(question_id: str) -> bool:
    """A fixed, data-independent split: the first byte of the id's SHA-256, modulo HELD_ASIDE_BUCKETS."""
    return hashlib.sha256(question_id.encode("utf-8")).digest()[0] % HELD_ASIDE_BUCKETS == 0


def held_aside_rows(rows: Sequence[Row]) -> list[bool]:
    """Per row, whether it is held aside. The split is by question id, but rows whose question and reference answer
    are the same text (the same rubric as `eval` sees it; SemEval has a few such pairs under different ids) all go
    to the side of the smallest of their ids, so no rubric has answers on both sides."""
    first_id: dict[tuple[str, str], str] = {}
    for row in rows:
        key = (row.rubric.question, row.rubric.reference_answer)
        first_id[key] = min(first_id.get(key, row.question_id), row.question_id)
    return [held_aside(first_id[(row.rubric.question, row.rubric.reference_answer)]) for row in rows]


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            Row(
                question_id=record["question_id"],
                rubric=Rubric(question=record["question"], reference_answer=record["reference_answer"]),
                answer=record["student_answer"],
                score=float(record["score"]),
                score_max=float(record["score_max"]),
            )
            for record in csv.DictReader(handle)
        ]


def fit_logistic(features: FloatArray, labels: FloatArray, ridge: float = RIDGE) -> FloatArray:
    """Coefficients [intercept, *weights] of a ridge-regularised logistic regression (Newton-Raphson)."""
    design = np.hstack([np.ones((features.shape[0], 1)), features])
    beta = np.zeros(design.shape[1])
    penalty = ridge * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (labels - p) - penalty @ beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta = beta + step
        if float(np.abs(step).max()) < 1e-8:
            break
    result: FloatArray = beta
    return result


def _features_and_labels(grader: OfflineGrader, rows: Sequence[Row]) -> tuple[FloatArray, FloatArray]:
    features: list[tuple[float, ...]] = []
    labels: list[float] = []
    for row in rows:
        evidence = grader.evidence(row.rubric, row.answer)
        for point_features in evidence.features:
            features.append(point_features)
            labels.append(row.score / row.score_max)
    return np.array(features, dtype=np.float64), np.array(labels, dtype=np.float64)


def evaluate(grader: OfflineGrader, rows: Sequence[Row]) -> Agreement:
    predicted = [result.score / MAX_SCORE for result in grader.grade_many([(r.rubric, r.answer) for r in rows])]
    return agreement(
        predicted, [r.score for r in rows], [r.score_max for r in rows], pass_fraction=PASS_THRESHOLD / MAX_SCORE
    )


def calibrate(rows: Sequence[Row], grader: OfflineGrader) -> tuple[OfflineCalibration, dict[str, object]]:
    sides = held_aside_rows(rows)
    fit_rows = [r for r, aside in zip(rows, sides, strict=True) if not aside]
    test_rows = [r for r, aside in zip(rows, sides, strict=True) if aside]
    grader.prepare([(r.rubric, r.answer) for r in rows])
    features, labels = _features_and_labels(grader, fit_rows)
    beta = fit_logistic(features, (labels >= 0.5).astype(np.float64))
    weights = [float(b) for b in beta[1:]]
    fitted = grader.calibration.with_model(float(beta[0]), weights)
    # The score is read against a fixed pass threshold: move the intercept to where the fit part's macro-F1 peaks
    # (computed on the point features, which for one-point rubrics is the score before the degenerate-answer rules).
    best_shift, best_f1 = 0.0, -1.0
    gold = [bool(label >= 0.5) for label in labels]
    for shift in np.arange(-1.5, 1.51, 0.1):
        credit = 1 / (1 + np.exp(-(beta[0] + shift + features @ beta[1:])))
        f1 = macro_f1([bool(c >= PASS_THRESHOLD / MAX_SCORE) for c in credit], gold) or 0.0
        if f1 > best_f1 + 1e-9:
            best_shift, best_f1 = float(shift), f1
    final = fitted.with_model(round(float(beta[0]) + best_shift, 3), [round(w, 3) for w in weights])
    grader.calibration = final
    report: dict[str, object] = {
        "questions": {
            "fit": len({r.question_id for r in fit_rows}),
            "held_aside": len({r.question_id for r in test_rows}),
        },
        "constants": {"intercept": final.intercept, **dict(zip(FEATURES, final.coefficients(), strict=True))},
        "intercept_shift": round(best_shift, 2),
        "fit": evaluate(grader, fit_rows).as_dict(),
        "held_aside": evaluate(grader, test_rows).as_dict(),
        "whole_file": evaluate(grader, rows).as_dict(),
    }
    return final, report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    rows = read_rows(args.csv)
    _, report = calibrate(rows, OfflineGrader())
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
