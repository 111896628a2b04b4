"""Guild custom banks: validation report, hostile YAML, namespacing, export round trip, the per-guild bank view."""

from __future__ import annotations

import pytest
import yaml

from bot.core.custom_bank import (
    MAX_FILE_BYTES,
    MAX_GUILD_QUESTIONS,
    GuildBank,
    current_guild,
    export_yaml,
    guild_of,
    public_name,
    validate_import,
)
from bot.core.errors import NoQuestionsError, QuestionNotFoundError
from bot.core.models import Difficulty
from bot.core.question_bank import QuestionBank, TopicInfo
from tests.study._bank_files import BILLION_LAUGHS, DEEP_NESTING, PYTHON_TAG, WRONG_TYPES, bank_yaml, question

GUILD, OTHER = 111, 222


@pytest.fixture
def builtin() -> QuestionBank:
    q = question("rag", "basics")
    from bot.core.models import Question

    built = Question.model_validate({**q, "id": "rag.basics"})
    return QuestionBank(questions={built.id: built}, topics={"rag": TopicInfo("rag", "RAG", None)})


def test_a_valid_file_is_namespaced_to_the_guild(builtin: QuestionBank) -> None:
    report = validate_import(bank_yaml(), source="team.yaml", guild_id=GUILD, builtin=builtin)
    assert report.ok, report.summary()
    assert [q.id for q in report.questions] == [f"g{GUILD}-team-onboarding.step-{i}" for i in range(3)]
    assert {q.topic for q in report.questions} == {f"g{GUILD}-team-onboarding"}
    assert [b["id"] for b in report.bodies] == [f"team-onboarding.step-{i}" for i in range(3)]  # as written
    assert guild_of(report.questions[0].id) == GUILD and public_name(report.questions[0].id) == report.bodies[0]["id"]


def test_every_problem_is_reported_with_question_and_field(builtin: QuestionBank) -> None:
    report = validate_import(WRONG_TYPES, source="bad.yaml", guild_id=GUILD, builtin=builtin)
    assert not report.ok and not report.questions
    fields = {p.field for p in report.problems}
    assert {"difficulty", "question", "reference_answer", "key_points", "follow_ups"} <= fields
    assert all(p.question_id == "team-onboarding.bad" for p in report.problems)
    assert "Nothing was imported" in report.summary()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "aliases"),
        (PYTHON_TAG, "not valid YAML"),
        (DEEP_NESTING, "levels deep"),
        (b"\xff\xfe not utf-8", "UTF-8"),
        (b"- just\n- a list\n", "must be a mapping"),
        (b"topic: [unclosed\n", "not valid YAML"),
    ],
    ids=["billion-laughs", "python-tag", "deep-nesting", "not-utf8", "not-a-mapping", "syntax-error"],
)
def test_hostile_or_broken_yaml_is_refused_without_expanding_it(
    builtin: QuestionBank, data: bytes, message: str
) -> None:
    report = validate_import(data, source="evil.yaml", guild_id=GUILD, builtin=builtin)
    assert not report.ok and not report.questions
    assert message in str(report.problems[0])


def test_an_oversized_file_is_refused_before_parsing(builtin: QuestionBank) -> None:
    data = b"# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    report = validate_import(data, source="big.yaml", guild_id=GUILD, builtin=builtin)
    assert len(report.problems) == 1 and "256 KB" in str(report.problems[0])


def test_too_many_questions_for_the_guild_is_refused(builtin: QuestionBank) -> None:
    report = validate_import(
        bank_yaml(count=5),
        source="t.yaml",
        guild_id=GUILD,
        builtin=builtin,
        existing={f"g{GUILD}-other": MAX_GUILD_QUESTIONS - 4, f"g{GUILD}-team-onboarding": 100},
    )
    assert not report.ok and "limit is 200" in str(report.problems[0])
    replacing = validate_import(  # re-importing a topic replaces it: its own old questions don't count
        bank_yaml(count=5),
        source="t.yaml",
        guild_id=GUILD,
        builtin=builtin,
        existing={f"g{GUILD}-team-onboarding": 199},
    )
    assert replacing.ok


def test_built_in_topics_and_ids_cannot_be_reused(builtin: QuestionBank) -> None:
    document = {"topic": "rag", "questions": [question("rag", "basics")]}
    report = validate_import(yaml.safe_dump(document).encode(), source="r.yaml", guild_id=GUILD, builtin=builtin)
    messages = " / ".join(str(p) for p in report.problems)
    assert "built-in topic" in messages and "id of a built-in question" in messages


def test_export_round_trips_through_import(builtin: QuestionBank) -> None:
    report = validate_import(bank_yaml(), source="team.yaml", guild_id=GUILD, builtin=builtin)
    exported = export_yaml("team-onboarding", report.bodies, title="Team onboarding")
    again = validate_import(exported.encode(), source="export.yaml", guild_id=GUILD, builtin=builtin)
    assert again.ok and again.bodies == report.bodies


def test_the_bank_view_shows_a_guild_only_its_own_questions(builtin: QuestionBank) -> None:
    bank = GuildBank(builtin)
    mine = validate_import(bank_yaml(), source="a.yaml", guild_id=GUILD, builtin=builtin)
    theirs = validate_import(bank_yaml(count=2), source="b.yaml", guild_id=OTHER, builtin=builtin)
    bank.set_topic(GUILD, "team-onboarding", mine.questions, title="Team onboarding")
    bank.set_topic(OTHER, "team-onboarding", theirs.questions)

    assert [q.id for q in bank.filter()] == ["rag.basics"]  # outside any guild: built-ins only
    assert len(bank) == 1 and set(bank.topics) == {"rag"}
    ids = {q.id for q in bank.filter(guild_id=GUILD)}
    assert ids == {"rag.basics", *(q.id for q in mine.questions)}
    assert {q.id for q in bank.filter("team-onboarding", guild_id=OTHER)} == {q.id for q in theirs.questions}
    token = current_guild.set(GUILD)
    try:
        assert len(bank.sample(10, topic="team-onboarding", difficulty=Difficulty.BEGINNER)) == 3
    finally:
        current_guild.reset(token)
    assert bank.get(mine.questions[0].id) == mine.questions[0]  # grading resolves any guild's id
    with pytest.raises(NoQuestionsError):
        bank.filter("team-onboarding")  # no guild: the topic is unknown


def test_removing_questions_forgets_empty_topics(builtin: QuestionBank) -> None:
    bank = GuildBank(builtin)
    report = validate_import(bank_yaml(count=1), source="a.yaml", guild_id=GUILD, builtin=builtin)
    bank.set_topic(GUILD, "team-onboarding", report.questions)
    bank.remove(GUILD, [report.questions[0].id])
    assert bank.topics_for(GUILD) == bank.topics
    assert bank.filter(guild_id=GUILD) == list(builtin.questions.values())  # no longer offered...
    assert bank.get(report.questions[0].id) == report.questions[0]  # ...but in-flight answers still grade
    with pytest.raises(QuestionNotFoundError):
        GuildBank(builtin).get(report.questions[0].id)  # gone after a restart
