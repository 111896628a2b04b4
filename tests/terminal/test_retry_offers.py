"""The terminal offers :retry only when the engine allows one: not after :reveal (the model answer on the screen
would be copied for full credit) and not after a follow-up's feedback (a retry asks the main question again)."""

from __future__ import annotations

import io

from rich.console import Console

from bot.core.models import TERMINAL_USER_ID
from bot.core.session import ItemKind, Mode, SessionConfig
from bot.terminal.practice import CONTINUE_HELP, CONTINUE_HELP_NO_RETRY, InterviewRequest, TerminalInterview
from tests.core import conftest as core

# The engine's fixtures (the fixture bank, a clock, SQLite repositories, a scripted grader), used here as well.
bank, clock, engine, grader, make_service, service = (
    core.bank,
    core.clock,
    core.engine,
    core.grader,
    core.make_service,
    core.service,
)


def scripted(lines: list[str]):
    script = iter(lines)

    def read(_prompt: str) -> str:
        try:
            return next(script)
        except StopIteration:
            raise EOFError from None

    return read


async def run(service, grader, lines: list[str], mode: Mode = Mode.PRACTICE):
    out = io.StringIO()
    interview = TerminalInterview(Console(file=out, width=200), scripted(lines), service, grader, service.attempts)
    view = await interview.run(InterviewRequest(mode, count=2))
    return view, out.getvalue()


async def test_reveal_then_retry_is_refused_and_gives_no_credit(service, grader):
    view, text = await run(service, grader, [":reveal", ":retry", "score 10 (copied from the screen)", "", ""])
    assert CONTINUE_HELP_NO_RETRY in text and CONTINUE_HELP not in text
    assert "model answer was shown" in text
    assert view.report.overall == 0 and view.report.answered == 0
    assert await service.attempts.history(TERMINAL_USER_ID) == []  # the copied answer was never taken as an answer


async def test_retry_is_offered_after_a_main_answer(service, grader):
    view, text = await run(service, grader, ["score 4", "", ":retry", "score 9", "", ""])
    assert CONTINUE_HELP in text
    assert view.report.overall == 9


async def test_retry_is_not_offered_after_a_follow_up(make_service, grader):
    with_follow_ups = make_service(config=SessionConfig(follow_up_depth=1))
    lines = ["score 8", "", "", "score 3", "", ":retry", ""]
    view, text = await run(with_follow_ups, grader, lines, Mode.INTERVIEW)
    assert "follow-up can't be retried" in text
    kinds = [r.kind for r in view.session.results]
    assert kinds[:2] == [ItemKind.MAIN, ItemKind.FOLLOW_UP] and ItemKind.RETRY not in kinds
