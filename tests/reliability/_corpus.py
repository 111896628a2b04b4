"""The bad-input corpus (`tests/data/bad_inputs.jsonl`), loaded for the robustness suites (not a test module)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CORPUS_FILE = Path(__file__).resolve().parents[1] / "data" / "bad_inputs.jsonl"


@dataclass(frozen=True)
class BadInput:
    id: str
    category: str
    raw: str  # may contain "{question}"
    expect_low: bool

    def text(self, question: str = "What is this question about?") -> str:
        return self.raw.replace("{question}", question)

    @property
    def utf8_valid(self) -> bool:
        try:
            self.raw.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True


def load_corpus() -> list[BadInput]:
    entries = []
    for line in CORPUS_FILE.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "_comment" in record:
            continue
        raw = record["text"] if "text" in record else record["repeat"] * record["times"]
        entries.append(BadInput(record["id"], record["category"], raw, record["expect_low"]))
    return entries


CORPUS = load_corpus()
IDS = [entry.id for entry in CORPUS]


def pick(*ids: str) -> list[BadInput]:
    by_id = {entry.id: entry for entry in CORPUS}
    return [by_id[i] for i in ids]
