"""The worst bad inputs typed into `mockinterview practice` (stdin of the installed command): no crash, no traceback."""

from __future__ import annotations

import subprocess

import pytest

from tests.helpers import mockinterview_command
from tests.reliability._corpus import pick

pytestmark = pytest.mark.slow

WORST = [
    "length-100k-a",
    "length-100k-emoji",
    "control-01",
    "control-04",
    "control-06",
    "rtl-03",
    "zalgo-03",
    "fence-01",
    "injection-26",
    "mention-11",
]


def practice(cli_env, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*mockinterview_command(), "practice", "--topic", "gans", "--questions", "1", "--seed", "10"],
        input=stdin,
        capture_output=True,
        env=cli_env,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize("entry", pick(*WORST), ids=WORST)
def test_practice_survives_a_hostile_answer(cli_env, entry):
    # One line per answer in the terminal; the blank line ends it.
    answer = entry.text().replace("\n", " ").replace("\r", " ")
    result = practice(cli_env, answer.encode("utf-8", "surrogateescape") + b"\n\n")
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 0, stderr[-2000:]
    assert b"Traceback" not in result.stderr + result.stdout
    assert b"Interview report" in result.stdout


def test_practice_survives_invalid_utf8_bytes_on_stdin(cli_env):
    result = practice(cli_env, b"\xff\xfe\xc3\x28 broken bytes \xed\xa0\x80\n\n")
    assert b"Traceback" not in result.stderr + result.stdout, result.stderr[-2000:]
    assert result.returncode in (0, 1)
