"""Custom-bank files for the study tests: valid, invalid and hostile YAML, generated here."""

from __future__ import annotations

import yaml

REFERENCE = (
    "Our onboarding checklist starts with access to the shared notebooks, then a pairing session with a mentor, "
    "then a small evaluation task on the internal retrieval benchmark, so that a new engineer ships a measured "
    "change in the first week and learns how we review prompts, datasets and model cards before anything ships."
)


def question(topic: str, slug: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": f"{topic}.{slug}",
        "topic": topic,
        "difficulty": "beginner",
        "question": f"How does our team handle {slug.replace('-', ' ')} for new engineers?",
        "reference_answer": REFERENCE,
        "key_points": ["access to shared notebooks", "pairing session with a mentor", "an evaluation task"],
        "follow_ups": ["What would you change in the first week?"],
        "sources": ["new"],
    }
    body.update(changes)
    return body


def bank_yaml(topic: str = "team-onboarding", count: int = 3, **changes: object) -> bytes:
    document = {
        "topic": topic,
        "title": "Team onboarding",
        "questions": [question(topic, f"step-{i}", **changes) for i in range(count)],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


BILLION_LAUGHS = b"""topic: lol
questions:
  - &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
  - &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
  - &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
  - &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
  - &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
  - &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
  - &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""

PYTHON_TAG = b"""topic: evil
questions:
  - !!python/object/apply:os.system ["echo pwned"]
"""

DEEP_NESTING = b"topic: deep\nquestions: " + b"[" * 5000 + b"]" * 5000 + b"\n"

WRONG_TYPES = b"""topic: team-onboarding
questions:
  - id: team-onboarding.bad
    topic: team-onboarding
    difficulty: impossible
    question: 42
    reference_answer: [not, a, string]
    key_points: "one string, not a list"
    follow_ups: []
    sources: ["new"]
"""
