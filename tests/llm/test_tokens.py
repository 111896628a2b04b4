"""Token counting from the shipped BPE files, answer budgets, and cost estimates."""

from __future__ import annotations

import json
import random
import socket

import pytest

from bot.core.models import Rubric
from bot.llm.prompts import GraderPrompt
from bot.llm.tokens import (
    EncodingFileError,
    PromptTokenCounter,
    _shipped_ranks,
    count_message_tokens,
    count_tokens,
    cut_notice,
    encoding_name_for_model,
    estimate_cost,
    fit_to_budget,
    load_encoding,
    price_for,
    splits_cleanly,
)
from bot.settings import DEFAULT_PRICES, ModelPrice, Settings

O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"


@pytest.fixture(scope="module")
def o200k():
    return load_encoding("o200k_base")


def test_encoding_builds_with_the_network_blocked(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    encoding = load_encoding.__wrapped__("o200k_base")  # bypass the cache: really build it here
    assert encoding.name == "o200k_base"
    assert encoding.n_vocab > 199_000


@pytest.mark.parametrize(
    ("name", "text", "tokens"),
    [("o200k_base", "hello world", [24912, 2375]), ("cl100k_base", "hello world", [15339, 1917])],
    ids=["o200k", "cl100k"],
)
def test_shipped_encodings_match_tiktokens_ids(name, text, tokens):
    assert load_encoding(name).encode(text) == tokens


def test_a_file_with_the_wrong_hash_is_refused():
    with pytest.raises(EncodingFileError, match="sha256"):
        _shipped_ranks(O200K_URL, expected_hash="0" * 64)


def test_the_shipped_file_has_the_hash_tiktoken_expects():
    assert len(_shipped_ranks(O200K_URL, expected_hash=O200K_SHA256)) > 199_000


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-5-mini", "o200k_base"),
        ("gpt-4o-mini", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("llama3.1:8b", "o200k_base"),
    ],
    ids=["gpt-5-mini", "gpt-4o-mini", "gpt-4", "unknown-local-model"],
)
def test_models_map_to_their_encoding(model, encoding):
    assert encoding_name_for_model(model) == encoding


def test_special_token_text_in_an_answer_is_counted_as_text(o200k):
    assert count_tokens("<|endoftext|>", o200k) > 1


def test_message_tokens_add_chat_overhead(o200k):
    messages = [{"role": "system", "content": "hello world"}, {"role": "user", "content": "hello world"}]
    # Each message: 3 framing tokens + role (1) + content (2); then 3 tokens priming the reply.
    assert count_message_tokens(messages, o200k) == 2 * (3 + 1 + 2) + 3


# Answers whose first characters could join the text before them, were the split in a bad place.
TRICKY_ANSWERS = (
    "Mode collapse means the generator covers few modes.",
    "/usr/bin/env python: a path first",
    "\n\n  indented after blank lines",
    "'s and 're contractions, <|endoftext|> and <<<fences>>>",
    "123456 digits, ünïcödé, 中文, emoji 🙂",
    "",
)


@pytest.mark.parametrize("name", ["o200k_base", "cl100k_base"])
def test_cached_prompt_counts_equal_full_counts_for_every_bank_question(name, builtin_bank):
    encoding = load_encoding(name)
    counter = PromptTokenCounter(encoding)
    prompt = GraderPrompt.load()
    rng = random.Random(8)
    for question in builtin_bank.questions.values():
        rubric = Rubric.from_question(question)
        answer = rng.choice((*TRICKY_ANSWERS, question.reference_answer))
        rendered = prompt.render(rubric, answer, nonce=f"{rng.getrandbits(64):016x}")
        reask = {"role": "user", "content": "Your reply was invalid: score: too big\nReply again."}
        for messages in (rendered.messages, [*rendered.messages, reask]):
            cached = counter.messages(messages, repeated=(rendered.system, rendered.rubric_section))
            assert cached == count_message_tokens(messages, encoding), question.id
    assert counter.repeated.cache_info().hits > 1_000  # the system prompt and rubric sections came from the cache


def test_after_the_first_answer_only_the_answer_part_is_encoded(o200k):
    encoded: list[str] = []

    class RecordingCounter(PromptTokenCounter):
        def fresh(self, text: str) -> int:
            encoded.append(text)
            return super().fresh(text)

    prompt = GraderPrompt.load()
    counter = RecordingCounter(o200k)
    rubric = Rubric(question="What is attention?", reference_answer="A weighted sum.", key_points=("Weights.",))
    for answer in ("First answer.", "Second answer."):
        rendered = prompt.render(rubric, answer)
        counter.messages(rendered.messages, repeated=(rendered.system, rendered.rubric_section))
    (second,) = encoded[5:]  # the first encoded both roles, the system prompt, the rubric section and its answer
    assert second == rendered.user.removeprefix(rendered.rubric_section)
    assert second.startswith("The answer is between the fence lines") and "Second answer." in second


def test_prompt_counter_cache_is_bounded(o200k):
    counter = PromptTokenCounter(o200k, remembered_texts=16)
    for number in range(100):
        counter.messages(
            [{"role": "system", "content": f"system prompt {number}"}], repeated=(f"system prompt {number}",)
        )
    assert counter.repeated.cache_info().currsize == 16


def test_clean_splits_count_exactly_as_the_whole_text(o200k):
    """Random text around the split rule's edge cases: a clean split always adds up; without the rule it doesn't."""
    rng = random.Random(3)
    alphabet = ["\n", "\r\n", " ", "  ", "\t", "/", ".", ":", "'s", "a", "Word", "12", "é", "<", ">>>", "-", ")"]
    clean = broken = 0
    for _ in range(3_000):
        head = "".join(rng.choices(alphabet, k=rng.randint(1, 8))) + "\n"
        tail = "".join(rng.choices(alphabet, k=rng.randint(1, 8)))
        adds_up = count_tokens(head + tail, o200k) == count_tokens(head, o200k) + count_tokens(tail, o200k)
        if splits_cleanly(head, tail):
            clean += 1
            assert adds_up, (head, tail)
        elif not adds_up:
            broken += 1
    assert clean > 1_000 and broken > 100  # both sides of the rule were exercised


def test_answer_within_budget_is_untouched(o200k):
    budgeted = fit_to_budget("A short answer.", 50, o200k)
    assert budgeted.text == "A short answer."
    assert not budgeted.was_cut


def test_answer_over_budget_is_cut_to_the_budget_at_a_word_boundary(o200k):
    answer = " ".join(f"word{i}" for i in range(2_000))
    budgeted = fit_to_budget(answer, 100, o200k)
    assert budgeted.was_cut
    assert budgeted.tokens <= 100
    assert answer.startswith(budgeted.text)
    assert budgeted.text.split()[-1] in answer.split()  # no half word at the end
    assert budgeted.original_tokens == count_tokens(answer, o200k)


def test_cut_notice_tells_the_candidate_how_much_was_graded(o200k):
    budgeted = fit_to_budget("word " * 500, 60, o200k)
    notice = cut_notice(budgeted)
    assert f"only the first {budgeted.tokens} tokens were graded" in notice
    assert str(budgeted.original_tokens) in notice


def test_cost_charges_cached_input_at_its_own_rate():
    price = ModelPrice(input=1.0, cached_input=0.1, output=2.0)
    cost = estimate_cost(price, prompt_tokens=1_000_000, cached_tokens=400_000, completion_tokens=500_000)
    assert cost == pytest.approx(0.6 * 1.0 + 0.4 * 0.1 + 0.5 * 2.0)


def test_cost_of_the_default_model_for_a_typical_request():
    price = DEFAULT_PRICES["gpt-5-mini"]
    cost = estimate_cost(price, prompt_tokens=1_200, cached_tokens=0, completion_tokens=800)
    assert cost == pytest.approx((1_200 * 0.25 + 800 * 2.00) / 1e6)


def test_unpriced_model_costs_nothing():
    assert estimate_cost(None, prompt_tokens=10_000, completion_tokens=10_000) == 0.0


def test_dated_model_names_use_their_family_price():
    assert price_for("gpt-5-mini-2025-08-07", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-5-mini"]
    assert price_for("gpt-5-2025-08-07", DEFAULT_PRICES) == DEFAULT_PRICES["gpt-5"]
    assert price_for("llama3", DEFAULT_PRICES) is None


def test_prices_from_the_environment_override_and_extend_the_defaults(monkeypatch):
    overrides = {
        "gpt-5-mini": {"input": 1, "cached_input": 0.5, "output": 3},
        "my-vllm": {"input": 0, "cached_input": 0, "output": 0},
    }
    monkeypatch.setenv("MOCKINTERVIEW_PRICES", json.dumps(overrides))
    prices = Settings().prices
    assert prices["gpt-5-mini"] == ModelPrice(input=1, cached_input=0.5, output=3)
    assert prices["my-vllm"].output == 0
    assert prices["gpt-5"] == DEFAULT_PRICES["gpt-5"]
