"""Versioned grader prompts: load `prompts/grader/<version>.{system,user}.md` and render them safely.

Each file starts with a header comment declaring its placeholders ("Placeholders: a, b." or "none");
loading checks the body uses exactly those, and rendering requires exactly those values, so a template
edit can't silently leave a `{{name}}` in a prompt.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from bot.core.models import Rubric
from bot.resources import prompts_dir

PROMPT_FAMILY = "grader"
DEFAULT_VERSION = "v1"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
RUBRIC_PLACEHOLDERS = frozenset({"question", "reference_answer", "key_points", "misconceptions"})
ANSWER_PLACEHOLDERS = frozenset({"nonce", "answer"})
RUBRICS_REMEMBERED = 1024  # rendered rubric sections kept (the built-in bank has ~300 questions)
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

    def split_before_line_using(self, names: frozenset[str]) -> tuple[PromptTemplate, PromptTemplate]:
        """Two templates whose renders, joined, are this one's: the lines before the first line that uses one of
        `names`, and the rest (a placeholder never spans lines, so none is cut)."""
        first_use = next((match.start() for match in PLACEHOLDER.finditer(self.body) if match[1] in names), None)
        cut = len(self.body) if first_use is None else self.body.rfind("\n", 0, first_use) + 1
        return self._part(self.body[:cut], "head"), self._part(self.body[cut:], "tail")

    def _part(self, body: str, which: str) -> PromptTemplate:
        return PromptTemplate(f"{self.name} ({which})", frozenset(PLACEHOLDER.findall(body)), body)


@dataclass(frozen=True)
class RenderedPrompt:
    messages: list[dict[str, str]]
    nonce: str
    rubric_section: str = ""  # the start of the user message that depends only on the rubric (same for every answer)

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
    # Derived in __post_init__: the static system text, the user template split where the per-answer text starts,
    # and the rendered rubric sections (neutralising a rubric's text was most of a render's time; it is the same
    # for every answer to the question).
    _system_text: str = field(init=False, repr=False, compare=False)
    _rubric_part: PromptTemplate = field(init=False, repr=False, compare=False)
    _answer_part: PromptTemplate = field(init=False, repr=False, compare=False)
    _rubric_texts: Callable[[Rubric], _RubricText] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        expected = RUBRIC_PLACEHOLDERS | ANSWER_PLACEHOLDERS
        if self.user.placeholders != expected:
            raise PromptTemplateError(f"{self.user.name}: must use exactly {sorted(expected)}")
        object.__setattr__(self, "_system_text", self.system.render({}))
        rubric_part, answer_part = self.user.split_before_line_using(ANSWER_PLACEHOLDERS)
        object.__setattr__(self, "_rubric_part", rubric_part)
        object.__setattr__(self, "_answer_part", answer_part)
        object.__setattr__(self, "_rubric_texts", functools.lru_cache(maxsize=RUBRICS_REMEMBERED)(self._rubric_text))

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
        """The system and user messages; the same text as rendering `self.user` in one pass."""
        nonce = nonce or new_nonce()
        rubric_text = self._rubric_texts(rubric)
        values = {
            **rubric_text.values,
            "nonce": nonce,
            "answer": neutralise(answer.strip()) or "(empty answer)",
        }
        answer_section = self._answer_part.render({name: values[name] for name in self._answer_part.placeholders})
        return RenderedPrompt(
            messages=[
                {"role": "system", "content": self._system_text},
                {"role": "user", "content": rubric_text.section + answer_section},
            ],
            nonce=nonce,
            rubric_section=rubric_text.section,
        )

    def _rubric_text(self, rubric: Rubric) -> _RubricText:
        key_points = "\n".join(f"{number}. {neutralise(point)}" for number, point in enumerate(rubric.key_points, 1))
        misconceptions = "\n".join(f"- {neutralise(item)}" for item in rubric.misconceptions)
        values = {
            "question": neutralise(rubric.question),
            "reference_answer": neutralise(rubric.reference_answer),
            "key_points": key_points or "(none listed: judge against the reference answer)",
            "misconceptions": misconceptions or "(none listed)",
        }
        section = self._rubric_part.render({name: values[name] for name in self._rubric_part.placeholders})
        return _RubricText(values=MappingProxyType(values), section=section)


@dataclass(frozen=True)
class _RubricText:
    values: Mapping[str, str]  # the rubric's placeholder values, neutralised
    section: str  # the user template's lines before the answer's, rendered
