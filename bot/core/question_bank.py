"""Load question banks from YAML, collecting every problem (file, question id, field) instead of stopping."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.core.errors import NoQuestionsError, QuestionNotFoundError, UserFacingError
from bot.core.models import BankFile, Difficulty, Question

TOP_LEVEL_KEYS = {"$schema", "topic", "title", "description", "questions"}


@dataclass(frozen=True)
class BankProblem:
    source: str
    message: str
    question_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.source
        if self.question_id:
            where += f": {self.question_id}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class BankValidationError(UserFacingError):
    def __init__(self, problems: Sequence[BankProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p}" for p in self.problems[:20])
        more = f"\n  ... and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(f"The question bank has {len(self.problems)} problem(s):\n{lines}{more}")


# PyYAML's libyaml (C) loader where PyYAML was built with it: the bank loads in ~0.3 s instead of ~0.8 s, on every
# start of the bot, a worker or `mockinterview practice`.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> Any:  # noqa: ANN401 - whatever the document holds
    """The document, after a cheap pass over the parser's events that refuses aliases (so a hostile file can't
    expand into a 'billion laughs' bomb) and a key repeated in one mapping (which YAML loaders take silently, the
    last value winning: a question's second `id:` would quietly replace its first)."""
    open_collections: list[_OpenCollection] = []
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark  # libyaml's Mark: the same line and column as PyYAML's
            raise yaml.composer.ComposerError(None, None, "YAML aliases (*name) are not allowed", mark)  # type: ignore[arg-type]
        if isinstance(event, yaml.ScalarEvent | yaml.CollectionStartEvent):
            if open_collections:
                open_collections[-1].take(event)
            if isinstance(event, yaml.CollectionStartEvent):
                open_collections.append(
                    _OpenCollection(keys=set() if isinstance(event, yaml.MappingStartEvent) else None)
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            open_collections.pop()
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader


@dataclass
class _OpenCollection:
    """A mapping (`keys` it has so far) or a sequence (`keys` None) whose items the parser is still reading."""

    keys: set[str] | None
    next_is_key: bool = True

    def take(self, event: yaml.Event) -> None:
        """Note the next item (a key or a value of a mapping); refuse a key this mapping already has."""
        if self.keys is None:
            return
        if self.next_is_key and isinstance(event, yaml.ScalarEvent):
            if event.value in self.keys:
                message = f"the key {event.value!r} appears twice in one mapping"
                raise yaml.constructor.ConstructorError(None, None, message, event.start_mark)  # type: ignore[arg-type]
            self.keys.add(event.value)
        self.next_is_key = not self.next_is_key


@dataclass(frozen=True)
class TopicInfo:
    slug: str
    title: str
    description: str | None


@dataclass
class QuestionBank:
    """All loaded questions, indexed by id and topic."""

    questions: dict[str, Question] = field(default_factory=dict)
    topics: dict[str, TopicInfo] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.questions)

    def get(self, question_id: str) -> Question:
        try:
            return self.questions[question_id]
        except KeyError:
            raise QuestionNotFoundError(question_id) from None

    def filter(self, topic: str | None = None, difficulty: Difficulty | str | None = None) -> list[Question]:
        if topic is not None and topic not in self.topics:
            known = ", ".join(sorted(self.topics))
            raise NoQuestionsError(f"Unknown topic {topic!r}. Topics: {known}.")
        level = Difficulty(difficulty) if difficulty is not None else None
        return [
            q
            for q in self.questions.values()
            if (topic is None or q.topic == topic) and (level is None or q.difficulty == level)
        ]

    def sample(
        self,
        count: int,
        *,
        topic: str | None = None,
        difficulty: Difficulty | str | None = None,
        rng: random.Random | None = None,
    ) -> list[Question]:
        pool = self.filter(topic, difficulty)
        if not pool:
            raise NoQuestionsError("No question matches that topic and difficulty.")
        return (rng or random.Random()).sample(pool, min(count, len(pool)))

    def stats(self) -> dict[str, Counter[str]]:
        """Counts of questions per topic, split by difficulty."""
        by_topic: dict[str, Counter[str]] = {}
        for q in self.questions.values():
            by_topic.setdefault(q.topic, Counter())[q.difficulty.value] += 1
        return by_topic


def parse_bank_text(text: str, source: str) -> tuple[BankFile | None, list[BankProblem]]:
    """Parse one bank file's text; return the file (when fully valid) and every problem found."""
    try:
        document = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [BankProblem(source, f"is not valid YAML{where}: {problem}")]
    if not isinstance(document, dict):
        return None, [BankProblem(source, "must be a mapping with 'topic' and 'questions'")]

    problems = [BankProblem(source, "unknown key", field=str(key)) for key in document if key not in TOP_LEVEL_KEYS]
    raw_questions = document.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(BankProblem(source, "must be a non-empty list of questions", field="questions"))
        raw_questions = []
    file_topic = document.get("topic")

    for index, raw in enumerate(raw_questions):
        label = f"question #{index + 1}"
        if not isinstance(raw, dict):
            problems.append(BankProblem(source, "must be a mapping", question_id=label))
            continue
        question_id = str(raw.get("id") or label)
        try:
            question = Question.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_problems_from(exc, source, question_id))
            continue
        if question.topic != file_topic:
            problems.append(
                BankProblem(
                    source,
                    f"is {question.topic!r} but the file's topic is {file_topic!r}",
                    question_id=question_id,
                    field="topic",
                )
            )

    header = {k: v for k, v in document.items() if k != "questions"}
    try:
        BankFile.model_validate({**header, "questions": []}, context=None)
    except ValidationError as exc:
        problems.extend(p for p in _problems_from(exc, source, None) if p.field != "questions")
    if problems:
        return None, problems
    return BankFile.model_validate(document), []


def _problems_from(exc: ValidationError, source: str, question_id: str | None) -> Iterable[BankProblem]:
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        yield BankProblem(source, message, question_id=question_id, field=location)


def load_bank(builtin_dir: Path, extra_dirs: Sequence[Path] = ()) -> QuestionBank:
    """Load the built-in bank plus extra folders; raise `BankValidationError` listing every problem."""
    bank, problems = collect_bank(builtin_dir, extra_dirs)
    if problems:
        raise BankValidationError(problems)
    return bank


def collect_bank(builtin_dir: Path, extra_dirs: Sequence[Path] = ()) -> tuple[QuestionBank, list[BankProblem]]:
    bank = QuestionBank()
    problems: list[BankProblem] = []
    origin: dict[str, str] = {}
    for directory in [builtin_dir, *extra_dirs]:
        files = bank_files(directory)
        if not files:
            problems.append(BankProblem(str(directory), "holds no bank files (*.yaml)"))
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                problems.append(
                    BankProblem(str(path), f"is not UTF-8 text (byte {exc.start + 1} is not); save it as UTF-8")
                )
                continue
            except OSError as exc:
                problems.append(BankProblem(str(path), f"can't be read: {exc.strerror or exc}"))
                continue
            parsed, file_problems = parse_bank_text(text, str(path))
            problems.extend(file_problems)
            if parsed is None:
                continue
            bank.topics.setdefault(
                parsed.topic,
                TopicInfo(parsed.topic, parsed.title or parsed.topic.replace("-", " ").title(), parsed.description),
            )
            for question in parsed.questions:
                if question.id in origin:
                    problems.append(
                        BankProblem(
                            str(path),
                            f"duplicate id (also in {origin[question.id]})",
                            question_id=question.id,
                            field="id",
                        )
                    )
                    continue
                origin[question.id] = str(path)
                bank.questions[question.id] = question
    return bank, problems


def bank_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
