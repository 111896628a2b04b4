"""Typed errors of the core. `UserFacingError.message` is always safe to show to a user."""

from __future__ import annotations

from bot.core.models import TokenUsage


class InterviewError(Exception):
    """Root of every error the project raises on purpose."""


class UserFacingError(InterviewError):
    """An error whose message explains to the user what happened and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QuestionNotFoundError(UserFacingError):
    def __init__(self, question_id: str) -> None:
        super().__init__(f"There is no question with id {question_id!r}. Try `mockinterview bank list`.")
        self.question_id = question_id


class NoQuestionsError(UserFacingError):
    """A topic/difficulty filter matched no question."""


class GraderUnavailableError(InterviewError):
    """The grader could not produce a trustworthy grade (timeout, refusal, invalid output).

    `usage` and `model` are the tokens already billed before it gave up (a reply cut by its length limit, an
    invalid reply before a re-ask that failed), so the fallback grade and the metrics still count them.
    """

    def __init__(
        self, reason: str, *, retryable: bool = True, usage: TokenUsage | None = None, model: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.usage = usage or TokenUsage()
        self.model = model


class InvalidTransitionError(InterviewError):
    """An interview session was asked to move to a state it can't reach from its current one."""


class SessionAlreadyActiveError(UserFacingError):
    def __init__(self, session_id: int | None = None) -> None:
        super().__init__("You already have an interview running here. Finish it or end it first.")
        self.session_id = session_id


class SessionNotFoundError(UserFacingError):
    def __init__(self, session_id: int | None = None) -> None:
        super().__init__("That interview session doesn't exist any more.")
        self.session_id = session_id
