"""The terminal mock interview: ask, read a multi-line answer, save it, grade it, show feedback."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.text import Text

from bot.core.errors import GraderUnavailableError
from bot.core.models import TERMINAL_USER_ID, AnswerSubmission, Attempt, AttemptStatus, Question, Rubric
from bot.core.ports import AttemptRepository, Grader
from bot.core.question_bank import QuestionBank
from bot.terminal.render import history_table, print_grade, question_panel

HELP = (
    "Type your answer over as many lines as you like; an empty line sends it.\n"
    "Commands on a line of their own: :hint  :skip  :quit"
)

ReadLine = Callable[[str], str]  # like input(): raises EOFError at end of input


class QuitInterview(Exception):
    pass


@dataclass
class PracticeSummary:
    answered: list[Attempt] = field(default_factory=list)
    skipped: int = 0


class TerminalPractice:
    def __init__(
        self,
        console: Console,
        read_line: ReadLine,
        bank: QuestionBank,
        grader: Grader,
        attempts: AttemptRepository,
        user_id: int = TERMINAL_USER_ID,
    ) -> None:
        self.console = console
        self.read_line = read_line
        self.bank = bank
        self.grader = grader
        self.attempts = attempts
        self.user_id = user_id

    async def run(self, questions: Sequence[Question]) -> PracticeSummary:
        summary = PracticeSummary()
        await self._show_history()
        self.console.print(Text(HELP, style="dim"))
        try:
            for number, question in enumerate(questions, start=1):
                attempt = await self._ask(question, number, len(questions))
                if attempt is None:
                    summary.skipped += 1
                else:
                    summary.answered.append(attempt)
        except (QuitInterview, EOFError, KeyboardInterrupt):
            self.console.print()
        self._goodbye(summary)
        return summary

    async def _show_history(self) -> None:
        recent = await self.attempts.history(self.user_id, limit=5)
        if recent:
            self.console.print(history_table(recent, "Welcome back. Your last answers"))

    async def _ask(self, question: Question, number: int, total: int) -> Attempt | None:
        self.console.print(question_panel(question, number, total))
        hints_used = 0
        while True:
            answer, command = self._read_answer()
            if command == "quit":
                raise QuitInterview
            if command == "skip":
                self.console.print("Skipped.", style="dim")
                return None
            if command == "hint":
                hints_used = self._show_hint(question, hints_used)
                continue
            if not answer.strip():
                self.console.print("Your answer is empty; type it, or :skip to move on.", style="yellow")
                continue
            return await self._submit(question, answer, hints_used)

    def _read_answer(self) -> tuple[str, str | None]:
        lines: list[str] = []
        prompt = "> "
        while True:
            try:
                line = self.read_line(prompt)
            except EOFError:
                if lines:  # end of input right after an answer: still send what was typed
                    return "\n".join(lines), None
                raise
            command = line.strip().lower()
            if not lines and command in {":skip", ":quit", ":hint", ":q"}:
                return "", {":q": "quit"}.get(command, command[1:])
            if not line.strip():
                if lines:
                    return "\n".join(lines), None
                continue
            lines.append(line)
            prompt = "  "

    def _show_hint(self, question: Question, hints_used: int) -> int:
        if hints_used >= len(question.hints):
            self.console.print("No more hints for this question.", style="dim")
            return hints_used
        self.console.print(Text(f"Hint: {question.hints[hints_used]}", style="magenta"))
        return hints_used + 1

    async def _submit(self, question: Question, answer: str, hints_used: int) -> Attempt:
        # Saved first: whatever happens while grading, the answer is kept.
        attempt = await self.attempts.submit_answer(
            AnswerSubmission(
                user_id=self.user_id,
                question_id=question.id,
                topic=question.topic,
                answer=answer,
                hints_used=hints_used,
            )
        )
        with self.console.status("Grading…"):
            try:
                grade = await self.grader.grade(Rubric.from_question(question), answer)
            except GraderUnavailableError as exc:
                await self.attempts.mark_failed(attempt.id, exc.reason)
                self.console.print(f"Your answer is saved, but grading failed: {exc.reason}", style="red")
                return attempt
        attempt = await self.attempts.save_grade(attempt.id, grade)
        print_grade(self.console, grade, question)
        return attempt

    def _goodbye(self, summary: PracticeSummary) -> None:
        graded = [a for a in summary.answered if a.status == AttemptStatus.GRADED and a.grade]
        if not summary.answered:
            self.console.print("No answers this time. See you soon!")
            return
        average = sum(a.grade.score for a in graded if a.grade) / len(graded) if graded else 0.0
        self.console.print(
            f"Done: {len(summary.answered)} answered, {summary.skipped} skipped, average {average:.1f}/10. "
            "Your answers are saved; run `mockinterview practice` again to continue.",
            style="bold",
        )


def pick_questions(
    bank: QuestionBank, count: int, topic: str | None, difficulty: str | None, seed: int | None
) -> list[Question]:
    return bank.sample(count, topic=topic, difficulty=difficulty, rng=random.Random(seed))
