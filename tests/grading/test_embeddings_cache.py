"""CachedEncoder: a full cache makes room without losing the vectors of the call that filled it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from bot.grading.embeddings import CachedEncoder, Vectors


class HashEncoder:
    """A deterministic stand-in for the model that counts the texts it encodes."""

    model_id = "hash"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32).reshape(len(texts), 384)


def test_a_call_mixing_cached_and_new_texts_on_a_full_cache_returns_every_vector():
    inner = HashEncoder()
    cache = CachedEncoder(inner, max_entries=3)
    first = cache.encode(["a", "b", "c"])
    mixed = cache.encode(["a", "d", "a"])  # "a" cached, "d" new: the cache is full
    expected = HashEncoder().encode(["a", "d", "a"])
    assert np.allclose(mixed, expected) and np.allclose(first[0], mixed[0])
    assert "a" in cache and "d" in cache and len(cache._cache) <= 3


def test_the_least_recently_used_texts_make_room():
    inner = HashEncoder()
    cache = CachedEncoder(inner, max_entries=3)
    cache.encode(["key point", "b", "c"])
    cache.encode(["key point"])  # used again
    cache.encode(["d"])
    assert "key point" in cache and "b" not in cache
    cache.encode_many(["e", "f"])
    assert "key point" not in cache and {"d", "e", "f"} <= set(cache._cache)


def test_a_call_larger_than_the_cache_still_gets_its_vectors():
    cache = CachedEncoder(HashEncoder(), max_entries=2)
    cache.encode(["x"])
    assert cache.encode(["a", "b", "c", "x"]).shape == (4, 384)
