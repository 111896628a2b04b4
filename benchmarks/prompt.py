"""LLM prompt size and cost: renders the grader prompt for every bank question with a 150-word answer.

    python -m benchmarks.prompt [--json] [--completion-tokens N]

Target (issue 3): at most 1,500 prompt tokens per request. Nothing is sent anywhere; tokens are counted
with the shipped tiktoken encoding of the configured model.
"""

from __future__ import annotations

import argparse
import json
import statistics

from bot.core.models import Rubric
from bot.llm.prompts import GraderPrompt
from bot.llm.tokens import count_message_tokens, encoding_for_model, estimate_cost, price_for
from bot.settings import Settings
from bot.wiring import build_bank

ANSWER_WORDS = 150
TARGET_PROMPT_TOKENS = 1_500
# A JSON grade is ~300-500 tokens; reasoning models add hidden reasoning tokens on top (low effort assumed).
DEFAULT_COMPLETION_TOKENS = 700
# OpenAI caches prompt prefixes only for prompts of at least this many tokens.
CACHE_MIN_PROMPT_TOKENS = 1_024


def answer_of(words: int, source: str) -> str:
    """A plausible answer: the reference answer's own vocabulary, cycled to exactly `words` words."""
    vocabulary = source.split()
    return " ".join(vocabulary[i % len(vocabulary)] for i in range(words))


QUICK_QUESTIONS = 20  # --quick: a smoke run over the first questions of the bank (CI)


def measure(completion_tokens: int, limit: int | None = None) -> dict[str, object]:
    settings = Settings()
    encoding = encoding_for_model(settings.model)
    prompt = GraderPrompt.load()
    questions = list(build_bank(settings).questions.values())[:limit]
    sizes = []
    static_prefix = 0
    for question in questions:
        rendered = prompt.render(Rubric.from_question(question), answer_of(ANSWER_WORDS, question.reference_answer))
        sizes.append(count_message_tokens(rendered.messages, encoding))
        static_prefix = count_message_tokens(rendered.messages[:1], encoding)
    price = price_for(settings.model, settings.prices)
    mean_tokens = statistics.fmean(sizes)
    cached = static_prefix if mean_tokens >= CACHE_MIN_PROMPT_TOKENS else 0
    cost = estimate_cost(price, prompt_tokens=round(mean_tokens), completion_tokens=completion_tokens)
    cost_cached = estimate_cost(
        price, prompt_tokens=round(mean_tokens), completion_tokens=completion_tokens, cached_tokens=cached
    )
    return {
        "model": settings.model,
        "encoding": encoding.name,
        "questions": len(sizes),
        "answer_words": ANSWER_WORDS,
        "prompt_tokens_p50": statistics.median(sizes),
        "prompt_tokens_max": max(sizes),
        "static_prefix_tokens": static_prefix,
        "target_prompt_tokens": TARGET_PROMPT_TOKENS,
        "within_target": max(sizes) <= TARGET_PROMPT_TOKENS,
        "assumed_completion_tokens": completion_tokens,
        "cost_per_1000_usd": round(1000 * cost, 4),
        "cost_per_1000_with_cached_prefix_usd": round(1000 * cost_cached, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--completion-tokens", type=int, default=DEFAULT_COMPLETION_TOKENS)
    parser.add_argument("--quick", action="store_true", help=f"only the first {QUICK_QUESTIONS} questions (smoke run)")
    args = parser.parse_args()
    result = measure(args.completion_tokens, QUICK_QUESTIONS if args.quick else None)
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:40} {value}")


if __name__ == "__main__":
    main()
