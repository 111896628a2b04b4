"""Domain models shared by every adapter: questions, rubrics, grades and attempts."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)

# Limits of the bank format (DESIGN.md). A key point longer than this is no longer one checkable claim.
KEY_POINT_MAX_WORDS = 25
KEY_POINT_MAX_CHARS = 200
REFERENCE_MIN_WORDS = 40
REFERENCE_MAX_WORDS = 250
PASS_THRESHOLD = 6.0  # a grade of 6/10 or more counts as a pass (binary metrics, streaks of passes)
MAX_SCORE = 10.0

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=60)]
QuestionId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$", min_length=3, max_length=100)]
# A seed inventory id ("001-03"), or "new" for material beyond the seeds.
SourceId = Annotated[str, StringConstraints(pattern=r"^(\d{3}-\d{2}|new)$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def count_words(text: str) -> int:
    return len(WORD.findall(text))


# NUL (PostgreSQL text can't hold it) and lone surrogates (not encodable as UTF-8, e.g. from Discord JSON "\ud800" or
# a terminal's surrogateescape): characters no database stores. They become U+FFFD, the same on every engine.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT_CHARACTER = "\ufffd"


def storable_text(text: str) -> str:
    """`text` with the characters no database stores replaced by U+FFFD (everything else kept byte for byte)."""
    return _UNSTORABLE.sub(REPLACEMENT_CHARACTER, text)


class Difficulty(StrEnum):
    BEGINNER = "beginner"
    INTERMEDIATE = "intermediate"
    ADVANCED = "advanced"


class Question(BaseModel):
    """One bank question, exactly the DESIGN.md format."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: QuestionId
    topic: Slug
    difficulty: Difficulty
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=1000)]
    reference_answer: Text
    key_points: list[Text] = Field(min_length=3, max_length=7)
    misconceptions: list[Text] = Field(default_factory=list, max_length=8)
    follow_ups: list[Text] = Field(min_length=1, max_length=3)
    hints: list[Text] = Field(default_factory=list, max_length=5)
    tags: list[Slug] = Field(default_factory=list)
    sources: list[SourceId] = Field(min_length=1)

    @field_validator("reference_answer")
    @classmethod
    def _reference_length(cls, value: str) -> str:
        words = count_words(value)
        if not REFERENCE_MIN_WORDS <= words <= REFERENCE_MAX_WORDS:
            raise ValueError(
                f"has {words} words; a reference answer needs {REFERENCE_MIN_WORDS} to {REFERENCE_MAX_WORDS}"
            )
        return value

    @field_validator("key_points")
    @classmethod
    def _checkable_key_points(cls, points: list[str]) -> list[str]:
        for index, point in enumerate(points):
            if count_words(point) > KEY_POINT_MAX_WORDS or len(point) > KEY_POINT_MAX_CHARS:
                raise ValueError(
                    f"key point {index + 1} is too long to be one checkable point "
                    f"({count_words(point)} words; at most {KEY_POINT_MAX_WORDS} words, {KEY_POINT_MAX_CHARS} chars)"
                )
        if len({p.casefold() for p in points}) != len(points):
            raise ValueError("repeats a key point")
        return points

    @model_validator(mode="after")
    def _id_matches_topic(self) -> Question:
        if not self.id.startswith(f"{self.topic}."):
            raise ValueError(f"id {self.id!r} must start with its topic, '{self.topic}.'")
        return self


class BankFile(BaseModel):
    """One `question_bank/<topic>.yaml` file."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str | None = Field(default=None, alias="$schema")
    topic: Slug
    title: str | None = None
    description: str | None = None
    questions: list[Question] = Field(min_length=1)


class Rubric(BaseModel):
    """What a grader needs: a bank question, a custom question, or an eval row (which may lack key points)."""

    model_config = ConfigDict(frozen=True)

    question: str
    reference_answer: str
    key_points: tuple[str, ...] = ()
    misconceptions: tuple[str, ...] = ()
    question_id: str | None = None
    # A follow-up's rubric: its wording probes one aspect of the question's reference, which has no key points for it.
    follow_up: bool = False

    @classmethod
    def from_question(cls, question: Question) -> Rubric:
        return cls(
            question=question.question,
            reference_answer=question.reference_answer,
            key_points=tuple(question.key_points),
            misconceptions=tuple(question.misconceptions),
            question_id=question.id,
        )


class Verdict(StrEnum):
    COVERED = "covered"
    PARTIAL = "partial"
    MISSING = "missing"
    INCORRECT = "incorrect"


class KeyPointResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_point: str
    verdict: Verdict
    evidence: str = ""  # a short quote from the answer supporting the verdict
    similarity: float | None = None  # the offline grader's best cosine similarity, when it graded


class TokenUsage(BaseModel):
    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


class GradeResult(BaseModel):
    """A grade with everything needed to trust it and to trace it back (grader, model, prompt, cost)."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0, le=MAX_SCORE)
    key_points: list[KeyPointResult] = Field(default_factory=list)
    factual_errors: list[str] = Field(default_factory=list)
    strengths: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    follow_up: str | None = None
    reasoning: str = ""
    notices: list[str] = Field(default_factory=list)  # said to the candidate: "your answer was cut at ..."
    flags: list[str] = Field(default_factory=list)  # machine-readable: "empty", "guard-capped", "fallback", ...
    grader: str  # "offline", "llm", or "offline-fallback" when the LLM was down
    model: str | None = None
    prompt_version: str | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)
    latency_ms: float = 0.0

    @property
    def normalized(self) -> float:
        return self.score / MAX_SCORE

    @property
    def passed(self) -> bool:
        return self.score >= PASS_THRESHOLD

    def verdicts(self, verdict: Verdict) -> list[KeyPointResult]:
        return [kp for kp in self.key_points if kp.verdict == verdict]


class AttemptStatus(StrEnum):
    PENDING = "pending"
    GRADED = "graded"
    FAILED = "failed"


class Attempt(BaseModel):
    """A stored answer, with its grade once graded."""

    model_config = ConfigDict(frozen=True)

    id: int
    user_id: int
    question_id: str
    topic: str
    answer: str
    status: AttemptStatus
    created_at: datetime
    session_id: int | None = None
    guild_id: int | None = None
    grade: GradeResult | None = None
    graded_at: datetime | None = None
    error: str | None = None
    hints_used: int = 0
    kind: str = "answer"  # answer | follow_up | retry: what was being answered


class AnswerSubmission(BaseModel):
    """An answer about to be saved (before it is graded)."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    question_id: str
    topic: str
    answer: str
    session_id: int | None = None
    guild_id: int | None = None
    hints_used: int = 0
    kind: str = "answer"  # answer | follow_up | retry
    delivery: dict[str, object] | None = None  # where the feedback goes (adapter-specific, e.g. channel ids)

    @field_validator("answer")
    @classmethod
    def _storable(cls, value: str) -> str:
        return storable_text(value)


TERMINAL_USER_ID = 0  # the terminal's single local user; Discord users use their snowflake ids


class Transport(StrEnum):
    TERMINAL = "terminal"
    DM = "dm"
    THREAD = "thread"
    CHANNEL = "channel"


class SessionRecord(BaseModel):
    """A persisted interview session: routing columns plus the engine's opaque JSON snapshot."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None  # None until stored
    user_id: int
    context: str  # "terminal", "dm", "guild:<id>": a user has at most one active session per context
    transport: Transport
    mode: str  # practice | interview | review | study
    state: str
    active: bool
    snapshot: dict[str, object]
    guild_id: int | None = None
    channel_id: int | None = None
    thread_id: int | None = None
    message_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None
    version: int = 0  # bumped by every save; a save from an older version is refused (`StaleSessionError`)


# --- Storage views (issue 4): what the repositories return for queues, progress, leaderboards and reviews.


class ClaimedJob(BaseModel):
    """A grading job leased to one worker; only that lease (owner + try) may complete or fail it."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    attempt: Attempt
    tries: int  # including this one
    lease_owner: str
    lease_expires_at: datetime


class PendingDelivery(BaseModel):
    """Feedback (a grade, or the news that grading failed) leased to one notifier for delivery."""

    model_config = ConfigDict(frozen=True)

    attempt: Attempt
    delivery: dict[str, object]  # the adapter-specific target stored with the submission
    tries: int
    lease_owner: str


class HistoryPage(BaseModel):
    """One page of a user's attempts, newest first; pass `next_cursor` back to get the next page."""

    model_config = ConfigDict(frozen=True)

    attempts: list[Attempt]
    next_cursor: str | None = None


class TopicStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    topic: str
    attempts: int  # every submitted answer
    graded: int
    average: float | None  # over graded attempts, 0-10
    best: float | None
    last_at: datetime


class LeaderboardPeriod(StrEnum):
    ALL = "all"
    WEEK = "week"  # since Monday 00:00 in the guild's timezone
    MONTH = "month"  # since the 1st, 00:00 in the guild's timezone


class LeaderboardEntry(BaseModel):
    """Points = per distinct question answered: 1 for answering + the best score on it (0-10). Repeats of a
    question only count through their best score, so spamming one question earns nothing."""

    model_config = ConfigDict(frozen=True)

    rank: int
    user_id: int
    points: float
    questions: int
    average_best: float


class Streak(BaseModel):
    """Consecutive local days (the user's timezone) with at least one submitted answer."""

    model_config = ConfigDict(frozen=True)

    current: int  # ends today, or yesterday if today has no answer yet
    longest: int
    last_day: date | None
    practised_today: bool
    timezone: str


class DueReview(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    question_id: str
    card: dict[str, object]
    due_at: datetime
    last_score: float | None = None


class UserProfile(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: int
    timezone: str = "UTC"
    settings: dict[str, object] = Field(default_factory=dict)


class CustomQuestion(BaseModel):
    """A guild's own question (the bank format, validated by the caller) and who added it."""

    model_config = ConfigDict(frozen=True)

    guild_id: int
    question_id: str
    topic: str
    body: dict[str, object]
    created_by: int | None = None
    created_at: datetime | None = None
