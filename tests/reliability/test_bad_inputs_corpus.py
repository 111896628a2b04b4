"""The corpus itself: big and varied enough to mean something."""

from __future__ import annotations

from collections import Counter

from tests.reliability._corpus import CORPUS

REQUIRED = {
    "blank", "length", "zalgo", "rtl", "emoji", "code", "mention", "markdown", "fake-json", "injection", "fence",
    "control", "sql", "long-word", "repeat-question", "surrogate",
}  # fmt: skip


def test_at_least_100_entries_with_unique_ids_in_every_required_category():
    assert len(CORPUS) >= 100
    assert len({e.id for e in CORPUS}) == len(CORPUS)
    counts = Counter(e.category for e in CORPUS)
    assert set(counts) >= REQUIRED, REQUIRED - set(counts)
    assert counts["injection"] >= 20 and counts["fence"] >= 8


def test_the_extremes_are_really_there():
    lengths = {e.id: len(e.raw) for e in CORPUS}
    assert lengths["length-max-4000-x"] == 4000
    assert lengths["length-100k-a"] == 100_000
    assert any("\x00" in e.raw for e in CORPUS)
    assert any("\u202e" in e.raw for e in CORPUS)
    assert any("@everyone" in e.raw for e in CORPUS)
    assert any("<<<END-ANSWER-" in e.raw for e in CORPUS)
    assert sum(not e.utf8_valid for e in CORPUS) >= 2
