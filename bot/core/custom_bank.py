"""A guild's own questions: import (validated all-or-nothing), export back to YAML, and a per-guild view of the bank.

Members write files in the normal bank format (`topic: company`, `id: company.onboarding`, ...). Inside the bot every
custom topic and id is namespaced to its guild (`g<guild id>-company`, `g<guild id>-company.onboarding`), so
attempts, grading jobs and the spaced-repetition schedule stay unambiguous across guilds, and a guild's question
can never be mistaken for a built-in one or for another guild's. Exports strip the prefix again.

Hostile files are refused, never expanded: a size limit before parsing, PyYAML's safe loader (no `!!python` tags),
no aliases at all (`parse_bank_text` refuses them, so no "billion laughs"), and a nesting limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from bot.core.errors import NoQuestionsError, QuestionNotFoundError, UserFacingError
from bot.core.models import Difficulty, Question
from bot.core.question_bank import BankProblem, QuestionBank, TopicInfo, parse_bank_text

MAX_FILE_BYTES = 256 * 1024
MAX_GUILD_QUESTIONS = 200
MAX_NESTING = 40  # the bank format needs 4 levels; anything much deeper is an attack on the parser
TOPIC_MAX_CHARS = 60  # `Slug` in models.py
ID_MAX_CHARS = 100  # `QuestionId` in models.py
_PREFIX = re.compile(r"^g(?P<guild>[0-9]{1,20})-")

# The guild an interaction runs in, so the shared bank can show that guild's questions to commands that only know
# a topic (the interview extension's /interview start and /practice). Set once per interaction by the tree.
current_guild: ContextVar[int | None] = ContextVar("current_guild", default=None)


def guild_prefix(guild_id: int) -> str:
    return f"g{guild_id}-"


def namespaced(guild_id: int, name: str) -> str:
    """A guild's topic or question id as stored and used inside the bot."""
    return guild_prefix(guild_id) + name


def public_name(name: str) -> str:
    """A topic or id as the guild wrote it (the namespace prefix removed)."""
    return _PREFIX.sub("", name, count=1)


def guild_of(name: str) -> int | None:
    """The guild a namespaced topic or id belongs to (None for built-in names)."""
    match = _PREFIX.match(name)
    return int(match["guild"]) if match else None


class CustomBankError(UserFacingError):
    """A custom-bank command that can't go ahead (the message says why)."""


@dataclass
class ImportReport:
    """The outcome of validating an upload: every problem, or the questions ready to store (namespaced)."""

    source: str
    problems: list[BankProblem] = field(default_factory=list)
    topic: str | None = None  # as written in the file
    title: str | None = None
    description: str | None = None
    questions: list[Question] = field(default_factory=list)  # namespaced, ready for the bank view
    bodies: list[dict[str, Any]] = field(default_factory=list)  # as written, for storage and export

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.questions)

    def summary(self, limit: int = 25) -> str:
        """A human report: what would be imported, or every problem (first `limit` listed, then a count)."""
        if self.ok:
            return f"{len(self.questions)} question(s) in topic `{self.topic}` are valid."
        lines = [f"• {problem}" for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"… and {len(self.problems) - limit} more")
        return f"Nothing was imported: {len(self.problems)} problem(s) in `{self.source}`:\n" + "\n".join(lines)


def _nesting_depth(text: str) -> int:
    """The deepest nesting of YAML collections in `text`, counted from the event stream (never composed)."""
    depth = deepest = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                return deepest
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return deepest


def validate_import(
    data: bytes,
    *,
    source: str,
    guild_id: int,
    builtin: QuestionBank,
    existing: Mapping[str, int] | None = None,
) -> ImportReport:
    """Validate an uploaded bank file for `guild_id`. Nothing is stored here; the caller stores only an ok report.

    `existing` counts the guild's stored questions per namespaced topic; an import replaces its own topic as a
    whole, so only the *other* topics count towards the per-guild limit."""
    report = ImportReport(source=source)
    if len(data) > MAX_FILE_BYTES:
        report.problems.append(
            BankProblem(
                source, f"is {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,} bytes ({MAX_FILE_BYTES // 1024} KB)"
            )
        )
        return report
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report.problems.append(BankProblem(source, "is not UTF-8 text"))
        return report
    try:
        depth = _nesting_depth(text)
    except yaml.YAMLError:
        depth = 0  # parse_bank_text reports the syntax error with its line and column
    except RecursionError:
        depth = MAX_NESTING + 1
    if depth > MAX_NESTING:
        report.problems.append(BankProblem(source, f"nests collections more than {MAX_NESTING} levels deep"))
        return report
    try:
        parsed, problems = parse_bank_text(text, source)
    except RecursionError:  # pragma: no cover - the depth check above runs first
        report.problems.append(BankProblem(source, "is nested too deeply"))
        return report
    report.problems.extend(problems)
    if parsed is None:
        return report

    report.topic, report.title, report.description = parsed.topic, parsed.title, parsed.description
    if parsed.topic in builtin.topics:
        report.problems.append(
            BankProblem(
                source,
                f"{parsed.topic!r} is a built-in topic; give your questions their own, e.g. '{parsed.topic}-team'",
                field="topic",
            )
        )
    topic = namespaced(guild_id, parsed.topic)
    if len(topic) > TOPIC_MAX_CHARS:
        limit = TOPIC_MAX_CHARS - len(guild_prefix(guild_id))
        report.problems.append(
            BankProblem(source, f"is too long; a server topic has at most {limit} characters", field="topic")
        )
    seen_ids: set[str] = set()
    for question in parsed.questions:
        if question.id in seen_ids:  # as `collect_bank` refuses: the second would replace the first when stored
            report.problems.append(
                BankProblem(source, "duplicate id: two questions have it", question_id=question.id, field="id")
            )
        seen_ids.add(question.id)
        if question.id in builtin.questions:
            report.problems.append(
                BankProblem(
                    source, "is the id of a built-in question; choose another id", question_id=question.id, field="id"
                )
            )
        if len(namespaced(guild_id, question.id)) > ID_MAX_CHARS:
            limit = ID_MAX_CHARS - len(guild_prefix(guild_id))
            report.problems.append(
                BankProblem(
                    source,
                    f"is too long; a server question id has at most {limit} characters",
                    question_id=question.id,
                    field="id",
                )
            )
    other_topics_count = sum(n for key, n in (existing or {}).items() if key != topic)
    total = other_topics_count + len(parsed.questions)
    if total > MAX_GUILD_QUESTIONS:
        report.problems.append(
            BankProblem(
                source,
                f"would give this server {total} custom questions; the limit is {MAX_GUILD_QUESTIONS} "
                f"({other_topics_count} are already in other topics)",
                field="questions",
            )
        )
    if report.problems:
        return report
    report.bodies = [q.model_dump(mode="json", exclude_defaults=True) for q in parsed.questions]
    report.questions = [to_guild_question(guild_id, body) for body in report.bodies]
    return report


def to_guild_question(guild_id: int, body: dict[str, Any]) -> Question:
    """A stored body (as the guild wrote it) as the namespaced `Question` the bot uses."""
    question = Question.model_validate(body)
    return question.model_copy(
        update={"id": namespaced(guild_id, question.id), "topic": namespaced(guild_id, question.topic)}
    )


def export_yaml(topic: str, bodies: Sequence[dict[str, Any]], *, title: str | None = None) -> str:
    """One topic's questions back in the bank format (re-importable as is)."""
    document: dict[str, Any] = {"topic": topic}
    if title:
        document["title"] = title
    document["questions"] = [dict(body) for body in bodies]
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


class GuildBank(QuestionBank):
    """The built-in bank plus every guild's questions.

    `get` resolves any id (grading needs no guild: ids are namespaced). `filter`/`sample` show the built-in
    questions plus those of the guild in `current_guild` (or the `guild_id` passed), so one guild never sees
    another's. `questions`, `topics`, `stats` and `len` stay the built-in bank's, exactly as before.
    """

    def __init__(self, builtin: QuestionBank) -> None:
        super().__init__(questions=builtin.questions, topics=builtin.topics)
        self.custom: dict[int, dict[str, Question]] = {}
        self.custom_topics: dict[int, dict[str, TopicInfo]] = {}
        # Removed or replaced questions stay resolvable by id in this process, so sessions and grading jobs that
        # already use them finish; they are no longer offered to anyone.
        self.retired: dict[str, Question] = {}

    # -- maintenance --------------------------------------------------------------------------------------------

    def set_topic(self, guild_id: int, topic: str, questions: Iterable[Question], *, title: str | None = None) -> None:
        """Replace the guild's questions of `topic` (as written) with `questions` (namespaced)."""
        key = namespaced(guild_id, topic)
        current = self.custom.get(guild_id, {})
        self.retired.update({qid: q for qid, q in current.items() if q.topic == key})
        kept = {qid: q for qid, q in current.items() if q.topic != key}
        new = {q.id: q for q in questions}
        kept.update(new)
        self.custom[guild_id] = kept
        topics = self.custom_topics.setdefault(guild_id, {})
        if new:
            topics[key] = TopicInfo(key, title or topic.replace("-", " ").title(), None)
        else:
            topics.pop(key, None)

    def remove(self, guild_id: int, question_ids: Iterable[str]) -> None:
        """Forget namespaced ids (and topics left empty)."""
        questions = self.custom.get(guild_id, {})
        for question_id in question_ids:
            removed = questions.pop(question_id, None)
            if removed is not None:
                self.retired[question_id] = removed
        remaining = {q.topic for q in questions.values()}
        topics = self.custom_topics.get(guild_id, {})
        for key in [k for k in topics if k not in remaining]:
            del topics[key]

    # -- reading ------------------------------------------------------------------------------------------------

    def get(self, question_id: str) -> Question:
        question = self.questions.get(question_id)
        if question is not None:
            return question
        guild_id = guild_of(question_id)
        if guild_id is not None and question_id in self.custom.get(guild_id, {}):
            return self.custom[guild_id][question_id]
        if question_id in self.retired:
            return self.retired[question_id]
        raise QuestionNotFoundError(question_id)

    def guild_questions(self, guild_id: int) -> dict[str, Question]:
        return dict(self.custom.get(guild_id, {}))

    def topics_for(self, guild_id: int | None) -> dict[str, TopicInfo]:
        """Built-in topics plus the guild's own (namespaced keys, the guild's titles)."""
        if guild_id is None:
            return dict(self.topics)
        return {**self.topics, **self.custom_topics.get(guild_id, {})}

    def resolve_topic(self, topic: str | None, guild_id: int | None) -> str | None:
        """A topic as a member typed it ("company") → the key the bot uses ("g1-company"); built-ins unchanged."""
        if topic is None or topic in self.topics or guild_id is None:
            return topic
        key = namespaced(guild_id, topic) if guild_of(topic) is None else topic
        return key if key in self.custom_topics.get(guild_id, {}) else topic

    def filter(
        self,
        topic: str | None = None,
        difficulty: Difficulty | str | None = None,
        *,
        guild_id: int | None = None,
    ) -> list[Question]:
        guild = guild_id if guild_id is not None else current_guild.get()
        topics = self.topics_for(guild)
        topic = self.resolve_topic(topic, guild)
        if topic is not None and topic not in topics:
            known = ", ".join(sorted(public_name(t) for t in topics))
            raise NoQuestionsError(f"Unknown topic {public_name(topic)!r}. Topics: {known}.")
        level = Difficulty(difficulty) if difficulty is not None else None
        pool = list(self.questions.values())
        if guild is not None:
            pool += list(self.custom.get(guild, {}).values())
        return [q for q in pool if (topic is None or q.topic == topic) and (level is None or q.difficulty == level)]


def question_from_body(guild_id: int, body: dict[str, Any]) -> Question | None:
    """A stored custom question, or None when it no longer validates (the model changed): it is skipped."""
    try:
        return to_guild_question(guild_id, body)
    except ValidationError:
        return None
