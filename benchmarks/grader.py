"""Offline grader benchmark over answers generated from the shipped bank.

    python -m benchmarks.grader [--json] [--quick]

* `model_load_s`: loading the int8 MiniLM ONNX model and its tokenizer (target <= 1 s).
* `grade_p50_ms`, `grade_p99_ms`: `OfflineGrader.grade_sync` per answer with warm caches, i.e. the model loaded and
  the rubric's key points, misconceptions and reference already encoded (target p50 <= 50 ms on 2 cores). Every
  answer is new text, so its own sentences are always encoded inside the timed call.
* `batch_per_s`: answers per second through `grade_many` (what `mockinterview eval` uses), on fresh answers.
* `rss_mb`: peak resident memory of the process.

Answers (1,000; 50 with `--quick`) are generated from the bank with a fixed seed: reference answers, subsets of the
key points, key points with dropped words, a misconception plus a key point, shuffled sentences, another topic's
reference, and short fragments.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import time

from bot.core.models import Question, Rubric
from bot.grading.embeddings import MiniLMEncoder
from bot.grading.offline import OfflineGrader
from bot.grading.text import split_sentences
from bot.settings import Settings
from bot.wiring import build_bank


def make_answers(questions: list[Question], count: int, seed: int = 2013) -> list[tuple[Rubric, str]]:
    rng = random.Random(seed)
    answers: list[tuple[Rubric, str]] = []
    while len(answers) < count:
        question = rng.choice(questions)
        points = list(question.key_points)
        kind = rng.randrange(7)
        if kind == 0:
            text = question.reference_answer
        elif kind == 1:
            text = " ".join(rng.sample(points, rng.randint(1, len(points))))
        elif kind == 2:
            text = " ".join(" ".join(w for w in p.split() if rng.random() > 0.25) for p in points)
        elif kind == 3 and question.misconceptions:
            text = f"{rng.choice(question.misconceptions)} {rng.choice(points)}"
        elif kind == 4:
            sentences = split_sentences(question.reference_answer)
            rng.shuffle(sentences)
            text = " ".join(sentences[: rng.randint(1, len(sentences))])
        elif kind == 5:
            text = rng.choice([q for q in questions if q.topic != question.topic]).reference_answer
        else:
            text = " ".join(rng.choice(points).split()[:6])
        # A unique suffix keeps every answer new text, so no answer is served from the embedding cache.
        answers.append((Rubric.from_question(question), f"{text} (answer {len(answers)})"))
    return answers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="~50 answers (CI smoke run)")
    args = parser.parse_args(argv)
    count = 50 if args.quick else 1000

    started = time.perf_counter()
    encoder = MiniLMEncoder()
    model_load_s = time.perf_counter() - started
    grader = OfflineGrader(encoder_factory=lambda: encoder)

    questions = list(build_bank(Settings()).questions.values())
    answers = make_answers(questions, count)
    rubrics = list({rubric.question_id: rubric for rubric, _ in answers}.values())
    started = time.perf_counter()
    grader.warm_up(rubrics)
    for rubric in rubrics:  # the misconception check encodes each rubric's reference once, on first use
        grader.grade_sync(rubric, "warm-up answer about the topic.")
    warm_up_s = time.perf_counter() - started

    latencies: list[float] = []
    for rubric, answer in answers:
        t0 = time.perf_counter()
        grader.grade_sync(rubric, answer)
        latencies.append((time.perf_counter() - t0) * 1000)

    fresh = [(rubric, answer.replace("(answer", "(batched answer")) for rubric, answer in answers]
    t0 = time.perf_counter()
    grader.grade_many(fresh)
    batch_per_s = len(fresh) / (time.perf_counter() - t0)

    result = {
        "answers": count,
        "rubrics": len(rubrics),
        "model_load_s": round(model_load_s, 3),
        "warm_up_s": round(warm_up_s, 2),
        "grade_p50_ms": round(statistics.median(latencies), 2),
        "grade_p99_ms": round(percentile(latencies, 99), 2),
        "batch_per_s": round(batch_per_s, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        for key, value in result.items():
            print(f"{key:>14}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
