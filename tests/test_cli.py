"""Smoke tests of the installed `mockinterview` entry point, run in subprocesses as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.storage.migrate import upgrade
from tests.helpers import run_cli, run_cli_in_process, run_module

COMMANDS = ["practice", "grade", "bank", "bank validate", "bank stats", "bank list", "bank schema", "db", "db upgrade"]


def test_help_lists_the_commands(cli_env):
    result = run_cli(["--help"], cli_env)
    assert result.returncode == 0, result.stderr
    for command in ("practice", "grade", "bank", "db"):
        assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=COMMANDS)
def test_every_command_has_help(cli_env, command):
    # In process: `test_help_lists_the_commands` and `python -m bot` run the real entry point.
    result = run_cli_in_process([*command.split(), "--help"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_python_dash_m_bot_is_the_same_cli(cli_env):
    result = run_module(["--help"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "practice" in result.stdout


def test_bank_validate_passes_on_the_shipped_bank(cli_env):
    result = run_cli(["bank", "validate"], cli_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("OK:")


def test_bank_stats_counts_topics_and_difficulties(cli_env):
    result = run_cli(["bank", "stats"], cli_env)
    assert result.returncode == 0, result.stderr
    for word in ("beginner", "intermediate", "advanced", "gans", "rag"):
        assert word in result.stdout


def test_bank_list_filters_by_topic(cli_env):
    result = run_cli(["bank", "list", "--topic", "gans"], cli_env)
    assert result.returncode == 0, result.stderr
    assert "gans." in result.stdout
    assert "rag." not in result.stdout


def test_bank_list_unknown_topic_is_a_clear_error(cli_env):
    result = run_cli(["bank", "list", "--topic", "no-such-topic"], cli_env)
    assert result.returncode == 1
    assert "Unknown topic 'no-such-topic'" in result.stderr
    assert "Traceback" not in result.stderr


def test_grade_offline_json_reports_a_traceable_grade(cli_env):
    answer = (
        "Mode collapse is when the generator covers only a few modes of the data and keeps producing near-identical "
        "samples. Mitigations include a Wasserstein loss with gradient penalty, minibatch discrimination and "
        "unrolled or diversity-regularised objectives."
    )
    result = run_cli(
        ["grade", "--question-id", "gans.mode-collapse", "--answer", answer, "--grader", "offline", "--json"], cli_env
    )
    assert result.returncode == 0, result.stderr
    grade = json.loads(result.stdout)
    assert grade["question_id"] == "gans.mode-collapse"
    assert grade["grader"] == "offline"
    assert grade["model"]
    assert 0 < grade["score"] <= 10
    assert grade["key_points"] and all("verdict" in kp for kp in grade["key_points"])


def test_grade_unknown_question_is_a_clear_error(cli_env):
    result = run_cli(["grade", "--question-id", "nope.nope", "--answer", "x", "--grader", "offline"], cli_env)
    assert result.returncode == 1
    assert "no question with id 'nope.nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_a_clear_error(cli_env):
    result = run_cli(["bank", "stats"], {**cli_env, "MOCKINTERVIEW_GRADER": "magic"})
    assert result.returncode == 2
    assert "Invalid configuration" in result.stderr
    assert "MOCKINTERVIEW_GRADER: Input should be 'auto', 'llm' or 'offline'" in result.stderr  # the variable's name
    assert "magic" not in result.stderr  # a value is never repeated: it may be a secret
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "line"),
    [
        ({"MOCKINTERVIEW_METRICS_PORT": "91OO"}, "  MOCKINTERVIEW_METRICS_PORT: Input should be a valid integer"),
        (
            {"MOCKINTERVIEW_PRICES": '{"hunter2": {"input": 0.2,}'},  # a stray comma: JSON, parsed before validation
            "  MOCKINTERVIEW_PRICES: not valid JSON (Expecting property name enclosed in double quotes: line 1",
        ),
        (
            {"MOCKINTERVIEW_PRICES": '{"hunter2": {"input": -1, "cached_input": 0, "output": 1}}'},
            "  MOCKINTERVIEW_PRICES (hunter2.input): Input should be greater than or equal to 0",
        ),
        ({"MOCKINTERVIEW_DATABASE_URL": "mysql://mi:hunter2@db/mi"}, "  MOCKINTERVIEW_DATABASE_URL: mysql:// is not"),
    ],
    ids=["int", "prices-json", "prices-value", "database-url"],
)
def test_a_bad_setting_names_its_variable_without_a_traceback(cli_env, env, line):
    """docs/operations.md: a bad value stops the command at start with the variable's name and the problem."""
    result = run_cli(["bank", "stats"], {**cli_env, **env})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Invalid configuration:\n"), result.stderr
    assert line in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr.replace("(hunter2.input)", "")  # the password never; a model name may


def test_setting_variable_is_the_conventional_name_or_the_prefixed_one():
    from bot.cli._app import setting_variable

    assert setting_variable("discord_token") == "DISCORD_TOKEN"
    assert setting_variable("openai_base_url") == "OPENAI_BASE_URL"
    assert setting_variable("metrics_port") == "MOCKINTERVIEW_METRICS_PORT"
    assert setting_variable("DISCORD_TOKEN") == "DISCORD_TOKEN"


def test_db_upgrade_creates_the_database(cli_env, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'fresh.db'}"
    result = run_cli(["db", "upgrade"], {**cli_env, "MOCKINTERVIEW_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nested" / "fresh.db").exists()


# --- start-up: a command imports only what it uses, when it runs -------------------------------------------------

# Modules none of these commands needs until it runs, and `--help` never: each costs 20-300 ms of start-up, and a
# command module that imports one at its top makes every command (and `--help`) pay for it. Checked by name in a
# fresh interpreter, not by timing, so a busy machine can't make it flaky.
NOT_AT_START = frozenset(
    {"alembic", "discord", "aiohttp", "openai", "sqlalchemy", "numpy", "onnxruntime", "prometheus_client"}
    | {"pydantic_settings", "yaml"}
)
_PROBE = """
import sys
from bot.cli import app
if sys.argv[1:]:
    try:
        app(sys.argv[1:], prog_name="mockinterview")
    except SystemExit:
        pass
print("loaded:", *sorted(name for name in {watched!r} if name in sys.modules))
"""


def _loaded_after(args: list[str], env: dict[str, str]) -> set[str]:
    """Which of NOT_AT_START a fresh interpreter has imported after importing the CLI and running `args`."""
    probe = _PROBE.format(watched=sorted(NOT_AT_START))
    result = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    last = result.stdout.splitlines()[-1] if result.stdout else ""
    assert last.startswith("loaded:"), result.stdout + result.stderr
    return set(last.split()[1:])


@pytest.mark.parametrize(
    "args", [[], ["--help"], ["practice", "--help"], ["bank", "--help"], ["grade", "--help"]], ids=" ".join
)
def test_importing_the_cli_and_help_import_nothing_heavy(cli_env, args):
    assert _loaded_after(args, cli_env) == set()


def test_bank_stats_imports_no_database_grader_or_discord(cli_env):
    assert _loaded_after(["bank", "stats"], cli_env) <= {"pydantic_settings", "yaml"}


def test_grading_offline_imports_no_database_llm_or_discord(cli_env):
    args = ["grade", "--question-id", "gans.mode-collapse", "--answer", "x", "--grader", "offline", "--json"]
    assert _loaded_after(args, cli_env) <= {"pydantic_settings", "yaml", "numpy", "onnxruntime"}


def test_a_database_at_head_is_opened_without_alembic(cli_env, database_url):
    upgrade(database_url)
    assert _loaded_after(["history"], cli_env) <= {"pydantic_settings", "sqlalchemy"}


# --- the database down or refusing us: one line saying so, never a traceback -------------------------------------


@pytest.fixture
def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("args", [["db", "upgrade"], ["history"]], ids=" ".join)
def test_an_unreachable_database_is_one_line_without_the_password(cli_env, closed_port, args):
    """`db upgrade` is what the compose `migrate` service runs: a database that isn't up yet was 163 lines."""
    url = f"postgresql+asyncpg://mi:hunter2@127.0.0.1:{closed_port}/mi"
    result = run_cli(args, {**cli_env, "MOCKINTERVIEW_DATABASE_URL": url})
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "alembic.runtime.plugins" not in line]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Can't reach the database (MOCKINTERVIEW_DATABASE_URL): "), result.stderr
    assert f"('127.0.0.1', {closed_port})" in lines[0]  # "[Errno 111] Connect call failed ('127.0.0.1', port)"
    assert "hunter2" not in result.stderr


def test_database_errors_that_mean_unreachable_are_told_apart(monkeypatch):
    from sqlalchemy import exc as sql_errors

    from bot.cli import _app

    monkeypatch.setattr(_app, "_redact", ["hunter2"])

    class AuthFailed(Exception):
        sqlstate = "28P01"

    refused = sql_errors.DBAPIError("connect", None, AuthFailed('password "hunter2" authentication failed\nmore'))
    assert _app.database_unreachable(refused) == 'password "***" authentication failed'
    locked = sql_errors.OperationalError("INSERT", None, Exception("database is locked"))
    assert _app.database_unreachable(locked) == "database is locked"
    assert _app.database_unreachable(sql_errors.IntegrityError("INSERT", None, Exception("UNIQUE"))) is None
    try:
        raise ConnectionRefusedError(111, "refused")  # raised here, not by a database driver: somebody else's
    except OSError as error:
        assert _app.database_unreachable(error) is None
    assert _app.database_unreachable(ValueError("x")) is None


def test_run_with_discord_unreachable_says_so_in_one_line(cli_env, closed_port):
    env = {
        **cli_env,
        "DISCORD_TOKEN": "x" * 60,
        "MOCKINTERVIEW_DISCORD_API_BASE": f"http://127.0.0.1:{closed_port}/api/v10",  # nothing listens there
    }
    result = run_cli(["run"], env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Unexpected error" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"Can't reach Discord: Cannot connect to host 127.0.0.1:{closed_port}"
    )
    assert "x" * 60 not in result.stderr


# --- Ctrl-C while the command line is still importing: a quiet exit, not a KeyboardInterrupt traceback -------------

_CTRL_C_WHILE_IMPORTING = """
import os, signal, sys
sys.argv[0] = {argv0!r}
import bot.cli._app  # the first module the entry point imports
os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the command modules are still being imported
import bot.cli
print("not interrupted")
"""


@pytest.mark.parametrize("argv0", ["/venv/bin/mockinterview", "/src/bot/__main__.py"])
def test_ctrl_c_while_importing_the_cli_exits_quietly(cli_env, argv0):
    probe = _CTRL_C_WHILE_IMPORTING.format(argv0=argv0)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env, timeout=120, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")


_HANDLER_AFTER = """
import signal, sys
sys.argv[0] = {argv0!r}
from bot.cli import app
before = signal.getsignal(signal.SIGINT)
try:
    app(["bank", "--help"], prog_name="mockinterview")
except SystemExit:
    pass
print(before is signal.default_int_handler, signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [
        ("/venv/bin/mockinterview", "False True"),  # quiet while importing; commands get KeyboardInterrupt again
        ("/usr/bin/some-program", "True True"),  # a program (or a test) importing the CLI keeps its own handler
    ],
)
def test_commands_see_keyboard_interrupt_as_usual(cli_env, argv0, expected):
    probe = _HANDLER_AFTER.format(argv0=argv0)
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=cli_env, timeout=120, check=False
    )
    assert result.stdout.splitlines()[-1] == expected, result.stdout + result.stderr
