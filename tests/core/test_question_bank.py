"""The bank loader reports every problem with file, question id and field, and refuses hostile YAML."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.errors import NoQuestionsError, QuestionNotFoundError
from bot.core.question_bank import BankValidationError, collect_bank, load_bank, parse_bank_text
from tests.helpers import run_cli

REFERENCE = " ".join(["Attention lets every token weigh every other token by learned relevance."] * 5)


def question(**overrides):
    base = {
        "id": "demo.attention",
        "topic": "demo",
        "difficulty": "beginner",
        "question": "What does attention do in a transformer?",
        "reference_answer": REFERENCE,
        "key_points": ["Tokens weigh each other", "Weights come from query-key scores", "Values are mixed"],
        "follow_ups": ["Why scale by the square root of d_k?"],
        "sources": ["new"],
    }
    base.update(overrides)
    return base


def write_bank(directory, name, questions, topic="demo", **header):
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(yaml.safe_dump({"topic": topic, **header, "questions": questions}, sort_keys=False))
    return path


def test_valid_bank_loads(tmp_path):
    write_bank(tmp_path, "demo.yaml", [question()], title="Demo")
    bank = load_bank(tmp_path)
    assert list(bank.questions) == ["demo.attention"]
    assert bank.topics["demo"].title == "Demo"
    assert bank.get("demo.attention").difficulty.value == "beginner"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"difficulty": "expert"}, "difficulty", "beginner"),
        ({"colour": "blue"}, "colour", "unknown key"),
        ({"question": ""}, "question", "at least 10"),
        ({"reference_answer": "Too short."}, "reference_answer", "words"),
        ({"key_points": ["one", "two"]}, "key_points", "at least 3"),
        ({"key_points": ["a", "b", "c " * 40]}, "key_points", "too long to be one checkable point"),
        ({"follow_ups": []}, "follow_ups", "at least 1"),
        ({"sources": ["12-3"]}, "sources.0", "pattern"),
        ({"id": "other.attention"}, None, "must start with its topic"),
    ],
    ids=[
        "difficulty",
        "unknown-key",
        "empty-question",
        "short-reference",
        "few-points",
        "long-point",
        "no-follow-ups",
        "bad-source",
        "id-topic",
    ],
)
def test_each_problem_names_file_question_and_field(tmp_path, overrides, field, message):
    path = write_bank(tmp_path, "demo.yaml", [question(**overrides)])
    _, problems = collect_bank(tmp_path)
    assert problems, "expected a problem"
    problem = problems[0]
    assert problem.source == str(path)
    assert problem.question_id == overrides.get("id", "demo.attention")
    if field is not None:
        assert problem.field == field
    assert message in str(problem)


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    write_bank(tmp_path, "demo.yaml", [question(difficulty="x"), question(id="demo.second", key_points=[])])
    write_bank(tmp_path, "more.yaml", [question(id="demo.third", colour=1)])
    _, problems = collect_bank(tmp_path)
    ids = {p.question_id for p in problems}
    assert ids == {"demo.attention", "demo.second", "demo.third"}


def test_duplicate_ids_across_files_are_reported(tmp_path):
    write_bank(tmp_path, "a.yaml", [question()])
    second = write_bank(tmp_path, "b.yaml", [question()])
    _, problems = collect_bank(tmp_path)
    assert [(p.source, p.question_id, p.field) for p in problems] == [(str(second), "demo.attention", "id")]
    assert "duplicate id" in problems[0].message


def test_extra_bank_cannot_silently_override_a_builtin_id(tmp_path):
    write_bank(tmp_path / "builtin", "demo.yaml", [question()])
    write_bank(tmp_path / "extra", "demo.yaml", [question(question="An overriding question text?")])
    with pytest.raises(BankValidationError, match="duplicate id"):
        load_bank(tmp_path / "builtin", [tmp_path / "extra"])


def test_question_topic_must_match_file_topic(tmp_path):
    write_bank(tmp_path, "demo.yaml", [question(topic="other", id="other.attention")])
    _, problems = collect_bank(tmp_path)
    assert problems[0].field == "topic"


def test_invalid_yaml_reports_the_line(tmp_path):
    (tmp_path / "broken.yaml").write_text("topic: demo\nquestions:\n  - id: [unclosed\n")
    _, problems = collect_bank(tmp_path)
    assert len(problems) == 1
    assert "is not valid YAML (line" in problems[0].message


def test_yaml_aliases_are_refused_so_bombs_cannot_expand():
    bomb = textwrap.dedent(
        """
        a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        topic: demo
        questions: *c
        """
    )
    parsed, problems = parse_bank_text(bomb, "bomb.yaml")
    assert parsed is None
    assert "aliases" in problems[0].message


def test_python_tags_are_not_executed():
    parsed, problems = parse_bank_text("topic: !!python/object/apply:os.system ['echo hi']\n", "evil.yaml")
    assert parsed is None
    assert "not valid YAML" in problems[0].message


def test_empty_folder_is_a_problem(tmp_path):
    _, problems = collect_bank(tmp_path)
    assert "holds no bank files" in problems[0].message


def test_filters_and_lookups(tmp_path):
    write_bank(tmp_path, "demo.yaml", [question(), question(id="demo.hard", difficulty="advanced")])
    bank = load_bank(tmp_path)
    assert [q.id for q in bank.filter(difficulty="advanced")] == ["demo.hard"]
    with pytest.raises(NoQuestionsError, match="Unknown topic"):
        bank.filter(topic="nope")
    with pytest.raises(QuestionNotFoundError):
        bank.get("demo.nope")


def test_cli_validate_reports_every_problem_without_traceback(tmp_path, cli_env):
    write_bank(tmp_path / "bad", "demo.yaml", [question(difficulty="expert"), question(id="demo.x", colour=1)])
    result = run_cli(["bank", "validate", str(tmp_path / "bad")], cli_env)
    assert result.returncode == 1
    assert "demo.yaml: demo.attention: difficulty:" in result.stdout
    assert "demo.yaml: demo.x: colour: unknown key" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(document=json_values)
def test_any_junk_document_gives_problems_not_exceptions(document):
    text = yaml.safe_dump(document)
    parsed, problems = parse_bank_text(text, "junk.yaml")
    assert parsed is None or not problems
    for problem in problems:
        assert problem.source == "junk.yaml" and problem.message


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=300))
def test_any_junk_text_gives_problems_not_exceptions(text):
    parsed, problems = parse_bank_text(text, "junk.yaml")
    assert parsed is not None or problems
