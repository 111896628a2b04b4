"""Typed errors of the core. `UserFacingError.message` is always safe to show to a user."""

from __future__ import annotations


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
    """The grader could not produce a trustworthy grade (timeout, refusal, invalid output)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


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
