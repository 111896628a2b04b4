"""Text helpers for grading: sentence splitting, key points derived from a reference, degenerate answers."""

from __future__ import annotations

import re
import unicodedata

from bot.core.models import WORD, count_words

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+|(?<=:)\s*\n")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
MAX_DERIVED_POINTS = 6


def split_sentences(text: str) -> list[str]:
    """Sentences and bullet items of an answer; long run-on sentences are also split at commas."""
    pieces: list[str] = []
    for raw in _SENTENCE_END.split(text):
        sentence = _BULLET.sub("", raw).strip()
        if count_words(sentence) == 0:
            continue
        if count_words(sentence) > 40:
            pieces.extend(part.strip() for part in re.split(r",\s+", sentence) if count_words(part) > 0)
        else:
            pieces.append(sentence)
    return pieces


def derive_key_points(reference_answer: str) -> list[str]:
    """Checkable points from a reference answer alone: its most informative sentences, in order."""
    sentences = [s for s in split_sentences(reference_answer) if count_words(s) >= 4]
    if not sentences:
        return [reference_answer.strip()] if reference_answer.strip() else []
    if len(sentences) <= MAX_DERIVED_POINTS:
        return sentences
    ranked = sorted(range(len(sentences)), key=lambda i: count_words(sentences[i]), reverse=True)
    keep = sorted(ranked[:MAX_DERIVED_POINTS])
    return [sentences[i] for i in keep]


def latin_letter_ratio(text: str) -> float:
    """Share of letters that are Latin script: a low share means the answer is in another language."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return latin / len(letters)


def content_words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if len(w) > 2}


def looks_like_gibberish(text: str) -> bool:
    """Keyboard mashing: few vowels, long consonant runs, or almost no distinct words."""
    words = [w.lower() for w in WORD.findall(text) if w.isascii()]
    if not words:
        return False
    vowelless = sum(1 for w in words if len(w) > 3 and not re.search(r"[aeiouy]", w))
    consonant_runs = sum(1 for w in words if re.search(r"[bcdfghjklmnpqrstvwxz]{5,}", w))
    repeated = len(words) >= 6 and len(set(words)) <= max(2, len(words) // 5)
    return (vowelless + consonant_runs) / len(words) > 0.4 or repeated
