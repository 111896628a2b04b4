"""Versioned grader prompts: load `prompts/grader/<version>.{system,user}.md` and render them safely.

Each file starts with a header comment declaring its placeholders ("Placeholders: a, b." or "none");
loading checks the body uses exactly those, and rendering requires exactly those values, so a template
edit can't silently leave a `{{name}}` in a prompt.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.core.models import Rubric
from bot.resources import prompts_dir

PROMPT_FAMILY = "grader"
DEFAULT_VERSION = "v1"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_HEADER = re.compile(r"\A\s*<!--(?P<text>.*?)-->\s*", re.DOTALL)
_DECLARED = re.compile(r"Placeholders:\s*(?P<names>[^.]*)\.", re.IGNORECASE)
# Fences are written with runs of three angle brackets; untrusted text never keeps such a run.
_ANGLE_RUN = re.compile(r"<{3,}|>{3,}")
_LOOKALIKE = {"<": "\u2039", ">": "\u203a"}  # single angle quotation marks: read the same, can't fence


class PromptTemplateError(ValueError):
    """A prompt file whose header and body disagree, or a render with the wrong values."""


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    placeholders: frozenset[str]
    body: str

    @classmethod
    def load(cls, path: Path) -> PromptTemplate:
        text = path.read_text(encoding="utf-8")
        header = _HEADER.match(text)
        declared = _DECLARED.search(header["text"]) if header else None
        if header is None or declared is None:
            raise PromptTemplateError(f"{path}: missing header comment '<!-- ... Placeholders: a, b. -->'")
        names = declared["names"].strip()
        placeholders = frozenset() if names.lower() == "none" else frozenset(n.strip() for n in names.split(","))
        body = text[header.end() :].strip() + "\n"
        used = frozenset(PLACEHOLDER.findall(body))
        if used != placeholders:
            raise PromptTemplateError(
                f"{path}: header declares {sorted(placeholders)} but the body uses {sorted(used)}"
            )
        return cls(name=path.name, placeholders=placeholders, body=body)

    def render(self, values: Mapping[str, str]) -> str:
        if set(values) != self.placeholders:
            raise PromptTemplateError(f"{self.name}: needs exactly {sorted(self.placeholders)}, got {sorted(values)}")
        # One pass: a value that itself contains "{{x}}" is inserted literally, never expanded.
        return PLACEHOLDER.sub(lambda match: values[match[1]], self.body)


@dataclass(frozen=True)
class RenderedPrompt:
    messages: list[dict[str, str]]
    nonce: str

    @property
    def system(self) -> str:
        return self.messages[0]["content"]

    @property
    def user(self) -> str:
        return self.messages[1]["content"]


def neutralise(text: str) -> str:
    """Untrusted text with every run of three or more angle brackets replaced, so it can't form a fence."""
    return _ANGLE_RUN.sub(lambda match: _LOOKALIKE[match[0][0]] * len(match[0]), text)


def new_nonce() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True)
class GraderPrompt:
    version: str
    system: PromptTemplate
    user: PromptTemplate

    @property
    def prompt_version(self) -> str:
        return f"{PROMPT_FAMILY}/{self.version}"

    @classmethod
    def load(cls, version: str = DEFAULT_VERSION, directory: Path | None = None) -> GraderPrompt:
        folder = (directory or prompts_dir()) / PROMPT_FAMILY
        return cls(
            version=version,
            system=PromptTemplate.load(folder / f"{version}.system.md"),
            user=PromptTemplate.load(folder / f"{version}.user.md"),
        )

    def render(self, rubric: Rubric, answer: str, *, nonce: str | None = None) -> RenderedPrompt:
        nonce = nonce or new_nonce()
        key_points = "\n".join(f"{number}. {neutralise(point)}" for number, point in enumerate(rubric.key_points, 1))
        misconceptions = "\n".join(f"- {neutralise(item)}" for item in rubric.misconceptions)
        user = self.user.render(
            {
                "question": neutralise(rubric.question),
                "reference_answer": neutralise(rubric.reference_answer),
                "key_points": key_points or "(none listed: judge against the reference answer)",
                "misconceptions": misconceptions or "(none listed)",
                "nonce": nonce,
                "answer": neutralise(answer.strip()) or "(empty answer)",
            }
        )
        return RenderedPrompt(
            messages=[{"role": "system", "content": self.system.render({})}, {"role": "user", "content": user}],
            nonce=nonce,
        )
