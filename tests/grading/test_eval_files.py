"""`eval` reads headers written with spaces, and writes each prediction column once, also over its own output."""

from __future__ import annotations

import csv

from bot.cli.eval import read_eval_csv, write_predictions


def test_a_header_with_spaces_after_the_commas_is_accepted(tmp_path):
    source = tmp_path / "spaced.csv"
    source.write_text(
        "question, reference_answer, student_answer, score, score_max\n"
        "What does a discriminator do?,It tells real samples from generated ones.,It spots fakes.,1,1\n"
    )
    columns, rows = read_eval_csv(source)
    assert columns == ["question", "reference_answer", "student_answer", "score", "score_max"]
    assert rows[0].rubric.reference_answer == "It tells real samples from generated ones."
    assert rows[0].answer == "It spots fakes." and rows[0].score == 1


def test_predicting_over_an_earlier_output_writes_each_column_once(tmp_path):
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question", "reference_answer", "student_answer", "score", "score_max", "note"])
        writer.writerow(["Q?", "A reference answer.", "An answer.", "1", "2", "kept"])
    first, second = tmp_path / "pred.csv", tmp_path / "pred2.csv"
    columns, rows = read_eval_csv(source)
    write_predictions(first, columns, rows, [0.25])
    columns, rows = read_eval_csv(first)
    write_predictions(second, columns, rows, [0.75])
    with second.open(newline="") as handle:
        header = next(csv.reader(handle))
        handle.seek(0)
        (row,) = list(csv.DictReader(handle))
    assert header == [
        "question",
        "reference_answer",
        "student_answer",
        "score",
        "score_max",
        "note",
        "predicted",
        "predicted_score",
    ]
    assert row["predicted"] == "0.7500" and row["predicted_score"] == "1.5000" and row["note"] == "kept"
