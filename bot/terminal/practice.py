"""The terminal mock interview: a prompt loop over `InterviewService`.

Answers are saved before they are graded; grading runs inline here (the Discord bot uses the queue's workers).
Ctrl-C or end of input ends the interview cleanly; an unfinished interview resumes on the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.text import Text

from bot.core.errors import GraderUnavailableError, QuestionNotFoundError, UserFacingError
from bot.core.models import TERMINAL_USER_ID, Attempt, AttemptStatus, Transport
from bot.core.ports import AttemptRepository, Grader
from bot.core.service import InterviewService, SessionView, Where, retry_refusal
from bot.core.session import Mode, SessionState
from bot.terminal.render import grade_panel, history_table, prompt_panel, reference_panel, report_panel

TERMINAL = Where(context="terminal", transport=Transport.TERMINAL)
ANSWER_HELP = (
    "Type your answer over as many lines as you like; an empty line sends it.\n"
    "Commands on a line of their own: :hint  :skip  :reveal  :quit"
)
CONTINUE_HELP = "Press Enter to continue, :retry to answer this question again, or :quit to stop."
CONTINUE_HELP_NO_RETRY = "Press Enter to continue, or :quit to stop."
_ALREADY_SENT = "That looks like more answer text, but your answer was already sent (an empty line sends it). "
NOT_A_CONTINUE_COMMAND = (
    _ALREADY_SENT + "Type :retry to answer this question again, press Enter to continue, or :quit to stop."
)
NOT_A_CONTINUE_COMMAND_NO_RETRY = _ALREADY_SENT + CONTINUE_HELP_NO_RETRY
ANSWER_COMMANDS = {":hint": "hint", ":skip": "skip", ":reveal": "reveal", ":quit": "quit", ":q": "quit"}
COMMANDS = {*ANSWER_COMMANDS, ":retry"}

ReadLine = Callable[[str], str]  # like input(): raises EOFError at end of input
InputWaiting = Callable[[], bool]  # is another line already typed or pasted, waiting to be read?


class StopInterview(Exception):  # control flow, not an error
    pass


@dataclass(frozen=True)
class InterviewRequest:
    mode: Mode
    topic: str | None = None
    difficulty: str | None = None
    count: int = 5
    fresh: bool = False  # abandon an unfinished interview instead of resuming it


class TerminalInterview:
    def __init__(
        self,
        console: Console,
        read_line: ReadLine,
        service: InterviewService,
        grader: Grader,
        attempts: AttemptRepository,
        user_id: int = TERMINAL_USER_ID,
        input_waiting: InputWaiting = lambda: False,
    ) -> None:
        self.console = console
        self.read_line = read_line
        self.input_waiting = input_waiting
        self._unread: list[str] = []  # a line read ahead to see whether a paste goes on
        self.service = service
        self.grader = grader
        self.attempts = attempts
        self.user_id = user_id

    async def run(self, request: InterviewRequest) -> SessionView | None:
        """Run (or resume) an interview until it ends or the user stops; returns the last view."""
        view = await self._start(request)
        if view is None:
            return None
        self.console.print(Text(ANSWER_HELP, style="dim"))
        try:
            while view.session.live:
                view = await self._step(view)
        except (StopInterview, EOFError, KeyboardInterrupt):
            self.console.print()
            view = await self.service.end(_session_id(view), self.user_id)
        if view.report is not None:
            self.console.print(report_panel(view.report, self.service.bank))
        return view

    async def _start(self, request: InterviewRequest) -> SessionView | None:
        recent = await self.attempts.history(self.user_id, limit=5)
        if recent:
            self.console.print(history_table(recent, "Welcome back. Your last answers"))
        await self._grade_leftovers(recent)
        try:
            active = await self.service.active(self.user_id, TERMINAL.context)
        except QuestionNotFoundError as exc:  # it waits for an answer to that question
            await self._end_unresumable(exc.question_id)
            active = None
        if active is not None and (missing := self._questions_gone(active)):
            await self._end_unresumable(missing[0])
            active = None
        if active is not None and not request.fresh:
            self.console.print(
                f"Resuming your unfinished {active.session.mode.value} "
                f"(question {active.session.number} of {active.session.total}); use --new to start over.",
                style="bold",
            )
            return active
        if active is not None:
            await self.service.end(_session_id(active), self.user_id)
        try:
            return await self.service.start(
                self.user_id,
                TERMINAL,
                request.mode,
                topic=request.topic,
                difficulty=request.difficulty,
                count=request.count,
            )
        except UserFacingError as exc:
            self.console.print(exc.message, style="yellow")
            return None

    def _questions_gone(self, view: SessionView) -> list[str]:
        """The questions this interview still needs (the one in hand, the ones still to ask) that left the bank."""
        session = view.session
        needed = [session.current.question_id] if session.current is not None else []
        needed += session.plan[session.position :]
        return [question_id for question_id in needed if question_id not in self.service.bank.questions]

    async def _end_unresumable(self, question_id: str) -> None:
        """The unfinished interview waits on a question no longer in the bank (its bank folder gone, or the
        question renamed): it can't be resumed, and left as is it would stop every later run, so end it."""
        record = await self.service.sessions.active_for(self.user_id, TERMINAL.context)
        if record is not None and record.id is not None:
            await self.service.end(record.id, self.user_id)
        self.console.print(
            f"Your unfinished interview was ended: its question {question_id!r} is no longer in the question bank.",
            style="yellow",
        )

    async def _grade_leftovers(self, recent: list[Attempt]) -> None:
        """Answers saved by an earlier run that stopped before grading them get their grade now."""
        for attempt in recent:
            if attempt.status != AttemptStatus.PENDING:
                continue
            self.console.print(f"Grading an answer saved last time ({attempt.question_id})…", style="dim")
            try:
                rubric = await self.service.rubric_for(attempt)
            except QuestionNotFoundError:
                await self.attempts.mark_failed(attempt.id, "its question is no longer in the question bank")
                self.console.print("Can't grade it: its question is no longer in the question bank.", style="yellow")
                continue
            try:
                grade = await self.grader.grade(rubric, attempt.answer)
            except GraderUnavailableError as exc:
                self.console.print(f"Still can't grade it: {exc.reason}", style="yellow")
                continue
            self.console.print(grade_panel(grade, self.service.bank.questions.get(attempt.question_id)))
            await self.service.record_grade(await self.attempts.save_grade(attempt.id, grade))

    async def _step(self, view: SessionView) -> SessionView:
        state = view.session.state
        session_id = _session_id(view)
        if state == SessionState.AWAITING_ANSWER and view.prompt is not None:
            return await self._ask(view)
        if state == SessionState.GRADING and view.session.pending_attempt_id is not None:
            # Resumed with an answer saved but not graded (the last run stopped while grading).
            attempt = await self.attempts.get_attempt(view.session.pending_attempt_id)
            return await self._grade(view, attempt)
        if state == SessionState.FEEDBACK:
            command = self._read_continue(retry_refusal(view.session))
            if command == "retry":
                try:
                    return await self.service.retry(session_id, self.user_id)
                except UserFacingError as exc:
                    self.console.print(exc.message, style="yellow")
                    return await self.service.get(session_id)
            return await self.service.next(session_id, self.user_id)
        return await self.service.get(session_id)

    async def _ask(self, view: SessionView) -> SessionView:
        assert view.prompt is not None  # noqa: S101 - checked by the caller
        prompt = view.prompt
        session_id = prompt.session_id
        self.console.print(prompt_panel(prompt))
        while True:
            answer, command = self._read_answer()
            try:
                if command == "quit":
                    raise StopInterview
                if command == "hint":
                    self.console.print(Text(f"Hint: {await self.service.hint(session_id, self.user_id)}", "magenta"))
                    continue
                if command == "skip":
                    self.console.print("Skipped.", style="dim")
                    return await self.service.skip(session_id, self.user_id)
                if command == "reveal":
                    question, view = await self.service.reveal(session_id, self.user_id)
                    self.console.print(reference_panel(question))
                    return view
                attempt = await self.service.submit_answer(session_id, self.user_id, answer)
            except UserFacingError as exc:
                self.console.print(exc.message, style="yellow")
                continue
            return await self._grade(view, attempt)

    async def _grade(self, view: SessionView, attempt: Attempt) -> SessionView:
        rubric = await self.service.rubric_for(attempt)
        question = self.service.bank.get(attempt.question_id)
        with self.console.status("Grading…"):
            try:
                grade = await self.grader.grade(rubric, attempt.answer)
            except GraderUnavailableError as exc:
                await self.attempts.mark_failed(attempt.id, exc.reason)
                self.console.print(f"Your answer is saved, but grading failed: {exc.reason}", style="red")
                failed = await self.attempts.get_attempt(attempt.id)
                return await self.service.record_grade(failed) or await self.service.get(_session_id(view))
        graded = await self.attempts.save_grade(attempt.id, grade)
        self.console.print(grade_panel(grade, question))
        return await self.service.record_grade(graded) or await self.service.get(_session_id(view))

    def _next_line(self, prompt: str) -> str:
        return self._unread.pop() if self._unread else self.read_line(prompt)

    def _read_answer(self) -> tuple[str, str | None]:
        lines: list[str] = []
        prompt = "> "
        while True:
            try:
                line = self._next_line(prompt)
            except EOFError:
                if lines:  # end of input right after an answer: still send what was typed
                    return "\n".join(lines), None
                raise
            command = ANSWER_COMMANDS.get(line.strip().lower())
            if not lines and command:
                return "", command
            if not line.strip():
                if not lines:
                    continue
                if not self._paste_goes_on():
                    return "\n".join(lines), None
            lines.append(line)
            prompt = "  "

    def _paste_goes_on(self) -> bool:
        """After an empty line: does answer text follow at once? A pasted answer of several paragraphs arrives
        in one go, so its blank lines must not send it half-way (the rest would reach the continue prompt). A
        line already waiting that is text continues the answer; an empty line or a command is kept for the
        next prompt, so typing ahead (an empty line, :retry, :quit) still works."""
        if not self.input_waiting():
            return False
        try:
            following = self.read_line("  ")
        except EOFError:
            return False
        self._unread.append(following)
        return bool(following.strip()) and following.strip().lower() not in COMMANDS

    def _read_continue(self, retry_refused: str | None = None) -> str:
        """After feedback: "next" or "retry". `retry_refused` says why this question can't be retried (after
        :reveal, or a follow-up's feedback): then :retry isn't offered, and typing it says why."""
        self.console.print(Text(CONTINUE_HELP if retry_refused is None else CONTINUE_HELP_NO_RETRY, style="dim"))
        while True:
            command = self._next_line("» ").strip().lower()
            if command in {":quit", ":q"}:
                raise StopInterview
            if command == "":
                return "next"
            if command == ":retry":
                if retry_refused is None:
                    return "retry"
                self.console.print(Text(f"{retry_refused} {CONTINUE_HELP_NO_RETRY}", style="yellow"))
                continue
            # Text here is most likely the rest of an answer: never take it for Enter and drop it silently.
            nudge = NOT_A_CONTINUE_COMMAND if retry_refused is None else NOT_A_CONTINUE_COMMAND_NO_RETRY
            self.console.print(Text(nudge, style="yellow"))


def _session_id(view: SessionView) -> int:
    if view.session.id is None:  # pragma: no cover - sessions always have ids once stored
        raise RuntimeError("session was never stored")
    return view.session.id
