"""InterviewService: the one engine every adapter (terminal, Discord) drives.

It owns the session state machine, question selection, follow-ups, hints, spaced repetition and reports.
Answers are saved (with their grading job) before grading; grading happens elsewhere — inline for the terminal,
in the durable queue's workers for Discord — and reports back through `record_grade`.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from bot.core.errors import (
    InvalidTransitionError,
    NoQuestionsError,
    SessionAlreadyActiveError,
    SessionNotFoundError,
    UserFacingError,
)
from bot.core.models import (
    AnswerSubmission,
    Attempt,
    AttemptStatus,
    DueReview,
    Question,
    Rubric,
    SessionRecord,
    Transport,
    Verdict,
)
from bot.core.ports import (
    AnswerPlan,
    AttemptRepository,
    Clock,
    ReviewChange,
    SessionRepository,
    SessionRevision,
    StaleSessionError,
    SystemClock,
)
from bot.core.question_bank import QuestionBank
from bot.core.report import Report, build_report, scored_overall
from bot.core.review import schedule
from bot.core.selection import UserKnowledge, choose_questions
from bot.core.session import (
    InterviewSession,
    Item,
    ItemKind,
    ItemOutcome,
    ItemResult,
    Mode,
    SessionConfig,
    SessionState,
)

KNOWLEDGE_WINDOW = 500  # recent attempts that inform selection, and find the earlier interviews for trends
TREND_SESSIONS = 20  # a report's trend compares with the overall scores of this many earlier interviews at most
LATE_ANSWER_FACTOR = 0.5  # an answer after the per-question time limit earns half credit
MIN_SCORE_FOR_FOLLOW_UP = 3.0  # probing deeper after a blank answer teaches nothing
SAVE_TRIES = 3  # an action re-read and re-decided this many times when another one saved the session first

T = TypeVar("T")
# Where an answer's feedback goes (adapter-specific), or a function of the session's record that says.
Delivery = dict[str, object] | Callable[[SessionRecord], dict[str, object]] | None


def attempt_kind(kind: ItemKind) -> str:
    """The stored attempt kind: "answer" for a main question, else the item kind ("follow_up", "retry")."""
    return "answer" if kind == ItemKind.MAIN else kind.value


class ReviewRepository(Protocol):
    async def reschedule_review(self, change: ReviewChange) -> None:
        """Read the card and store `change.reschedule(card)` in one transaction."""
        ...

    async def due_reviews(
        self,
        user_id: int,
        *,
        now: datetime | None = None,
        limit: int = 20,
        question_ids: Collection[str] | None = None,
    ) -> list[DueReview]:
        """Cards due by `now`, oldest first, up to `limit`; with `question_ids`, only those questions' cards."""
        ...


class NotYourSessionError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("This interview belongs to someone else. Start your own with /interview start.")


class MovedOnError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("This interview has moved on to another question meanwhile, so that was not applied.")


class OldQuestionError(UserFacingError):
    """A button or form shown for an item the session has since left (it names the item, `item_index`)."""

    def __init__(self) -> None:
        super().__init__(
            "That question has already moved on, so that was not applied: use the buttons on the latest question."
        )


class NothingDueError(UserFacingError):
    def __init__(self, *, filtered: bool = False) -> None:
        what = "Nothing of that topic and difficulty" if filtered else "Nothing"
        super().__init__(f"{what} is due for review right now. Practise new questions, and come back later!")


@dataclass(frozen=True)
class Where:
    """Where a session runs: one active session per user per context."""

    context: str  # "terminal", "dm", "guild:<id>"
    transport: Transport
    guild_id: int | None = None
    channel_id: int | None = None
    thread_id: int | None = None


@dataclass(frozen=True)
class Prompt:
    """What the candidate should see now."""

    session_id: int
    question: Question
    item: Item
    number: int
    total: int
    hints_left: int
    item_index: int  # which item this is in the session (`InterviewSession.item_index`), for its buttons


@dataclass(frozen=True)
class SessionView:
    session: InterviewSession
    record: SessionRecord
    prompt: Prompt | None  # set while a question awaits an answer
    report: Report | None = None  # set once the session is over


class InterviewService:
    def __init__(
        self,
        bank: QuestionBank,
        sessions: SessionRepository,
        attempts: AttemptRepository,
        reviews: ReviewRepository,
        *,
        clock: Clock | None = None,
        rng_factory: Callable[[], random.Random] = random.Random,
        config: SessionConfig | None = None,
    ) -> None:
        self.bank = bank
        self.sessions = sessions
        self.attempts = attempts
        self.reviews = reviews
        self.clock = clock or SystemClock()
        self.rng_factory = rng_factory
        self.config = config or SessionConfig()

    # -- starting -------------------------------------------------------------------------------------------

    async def start(
        self,
        user_id: int,
        where: Where,
        mode: Mode,
        *,
        topic: str | None = None,
        difficulty: str | None = None,
        count: int = 5,
        config: SessionConfig | None = None,
    ) -> SessionView:
        """Start a session and ask its first question. Raises `SessionAlreadyActiveError` if one is running."""
        existing = await self.sessions.active_for(user_id, where.context)
        if existing is not None:
            raise SessionAlreadyActiveError(existing.id)
        plan = await self._plan(user_id, mode, topic, difficulty, 1 if mode == Mode.PRACTICE else count)
        now = self.clock.now()
        session = InterviewSession(
            user_id=user_id,
            mode=mode,
            plan=[q.id for q in plan],
            config=config or self.config,
            topic=topic,
            difficulty=difficulty,
            created_at=now,
            last_activity_at=now,
        )
        session.ask(self._main_item(plan[0]), now)
        record = await self.sessions.create(self._record(session, where))
        session.id = record.id
        return await self._save(session, record)

    async def _plan(
        self, user_id: int, mode: Mode, topic: str | None, difficulty: str | None, count: int
    ) -> list[Question]:
        rng = self.rng_factory()
        knowledge = UserKnowledge.from_attempts(await self.attempts.history(user_id, limit=KNOWLEDGE_WINDOW))
        if mode == Mode.REVIEW:
            due = await self._due_here(user_id, count, topic, difficulty)
            if not due:
                raise NothingDueError(filtered=topic is not None or difficulty is not None)
            return choose_questions(due, count, knowledge, rng, due_first=[q.id for q in due])
        pool = self.bank.filter(topic, difficulty)
        if not pool:
            raise NoQuestionsError("No question matches that topic and difficulty.")
        return choose_questions(pool, count, knowledge, rng)

    async def anything_due(self, user_id: int, *, topic: str | None = None, difficulty: str | None = None) -> bool:
        """Whether review mode (with the same topic and difficulty) has a question to ask this user here now."""
        return bool(await self._due_here(user_id, 1, topic, difficulty))

    async def _due_here(
        self, user_id: int, limit: int, topic: str | None = None, difficulty: str | None = None
    ) -> list[Question]:
        """The questions of the user's due cards that this bank serves here (of `topic` and `difficulty` when given),
        oldest first, up to `limit`. Filtered before the limit: due cards of questions it doesn't serve (another
        server's, removed ones) are never reviewed, so they would stay first in line for good, and a topic's due
        cards must not be crowded out by older ones of other topics."""
        servable = {q.id: q for q in self.bank.filter(topic, difficulty)}
        due = await self.reviews.due_reviews(user_id, now=self.clock.now(), limit=limit, question_ids=list(servable))
        return [servable[d.question_id] for d in due if d.question_id in servable]

    # -- answering ------------------------------------------------------------------------------------------

    async def submit_answer(
        self,
        session_id: int,
        user_id: int,
        text: str,
        *,
        delivery: Delivery = None,
        item: int | None = None,
    ) -> Attempt:
        """Save the answer with its grading job (before any grading) and move the session to GRADING. The session is
        read, checked (its owner, a question waiting, the `item` the form was opened for) and saved in one write
        transaction. `delivery`: where the feedback goes, or a function of the session's record that says."""

        def plan(record: SessionRecord) -> AnswerPlan:
            session = self._session_of(record)
            _check_owned(session, record, user_id)
            check_item(session, item)
            return self._answer_plan(session, record, text, delivery(record) if callable(delivery) else delivery)

        return await self.sessions.answer(session_id, plan)

    async def submit_to(self, view: SessionView, text: str, *, delivery: dict[str, object] | None = None) -> Attempt:
        """`submit_answer` on the session as the caller read it for this user (`active`): no second read."""
        session, record = view.session, view.record

        async def submit(session: InterviewSession, record: SessionRecord) -> Attempt:
            plan = self._answer_plan(session, record, text, delivery)
            # One transaction: the answer, its grading job and the session's move to GRADING (version-checked).
            return await self.sessions.save_answer(plan.submission, plan.session_for)

        return await self._act(_id(record), record.user_id, submit, read=(session, record))

    def _answer_plan(
        self, session: InterviewSession, record: SessionRecord, text: str, delivery: dict[str, object] | None
    ) -> AnswerPlan:
        item = _check_awaiting(session)
        if not text.strip():
            raise UserFacingError("Your answer is empty. Type an answer, or skip the question.")
        question = self.bank.get(item.question_id)
        submission = AnswerSubmission(
            user_id=record.user_id,
            question_id=question.id,
            topic=question.topic,
            answer=text,
            session_id=record.id,
            guild_id=record.guild_id,
            hints_used=session.hints_used,
            kind=attempt_kind(item.kind),
            delivery=delivery,
        )
        now = self.clock.now()

        def grading(attempt: Attempt) -> SessionRecord:
            session.answer_submitted(attempt.id, now)
            return self._updated(session, record)

        return AnswerPlan(submission, grading)

    async def rubric_for(self, attempt: Attempt) -> Rubric:
        """The rubric to grade an attempt against: the question's, with the follow-up's wording for follow-ups."""
        question = self.bank.get(attempt.question_id)
        rubric = Rubric.from_question(question)
        if attempt.kind != ItemKind.FOLLOW_UP.value or attempt.session_id is None:
            return rubric
        session, _ = await self._load(attempt.session_id)
        if session.current is not None and session.pending_attempt_id == attempt.id:
            # A follow-up probes one aspect: grade it against the question's material without demanding every
            # key point of the main question (the graders derive checkable points from the reference).
            return Rubric(
                question=session.current.prompt,
                reference_answer=question.reference_answer,
                misconceptions=tuple(question.misconceptions),
                question_id=question.id,
                follow_up=True,
            )
        return rubric

    async def record_grade(self, attempt: Attempt) -> SessionView | None:
        """Called once an attempt is graded (or failed for good): GRADING → FEEDBACK, and schedule its review. The
        answer an interview was still grading when it ended (or expired) joins its results without a move.

        Returns None for attempts outside a session or already recorded (idempotent for redelivery)."""
        view, recorded = await self._record_grade(attempt)
        return view if recorded else None

    async def feedback_view(self, attempt: Attempt) -> SessionView | None:
        """`record_grade`, returning the session as it stands either way: what the feedback for `attempt` shows
        (None only for attempts outside a session). One transaction, where a redelivery used to need a second read."""
        view, _ = await self._record_grade(attempt)
        return view

    async def _record_grade(self, attempt: Attempt) -> tuple[SessionView | None, bool]:
        # The answer's review card is rescheduled once per answer (`ReviewChange.attempt_id`), whoever gets here
        # first: a redelivery changes nothing, and a grade that arrives after its interview ended still counts.
        now = self.clock.now()
        if attempt.session_id is None:
            if _drives_a_review(attempt):
                await self.reviews.reschedule_review(self._answer_review(attempt, _graded_score(attempt), now))
            return None, False
        read: list[InterviewSession] = []  # the session as `graded` found it (and changed it)

        def graded(record: SessionRecord) -> SessionRevision | None:
            session = self._session_of(record)
            read.append(session)
            if session.pending_attempt_id != attempt.id:
                return None  # already recorded (a redelivered notification), or the interview moved on
            result = self._result_for(session, attempt)
            if session.state == SessionState.GRADING:
                session.graded(result, now)
            elif session.state in (SessionState.FINISHED, SessionState.EXPIRED):
                session.graded_after_end(result)  # ended while this answer was graded: its report counts it
            else:
                return None  # abandoned: no report to count it in (its review still applies, below)
            review = self._answer_review(attempt, result.score, now) if _drives_a_review(attempt) else None
            return SessionRevision(self._updated(session, record), review)  # the review in the same transaction

        record, recorded = await self.sessions.revise(attempt.session_id, graded)
        # The interview moved on without this grade (abandoned, or a regrade): its review still applies, once.
        if not recorded and not _shows_grade(read[-1], attempt) and _drives_a_review(attempt):
            result = self._result_for(read[-1], attempt)
            await self.reviews.reschedule_review(self._answer_review(attempt, result.score, now))
        return await self._view(read[-1], record), recorded

    @staticmethod
    def _review(
        user_id: int, question_id: str, score: float | None, now: datetime, attempt_id: int | None = None
    ) -> ReviewChange:
        return ReviewChange(user_id, question_id, score, lambda card: schedule(card, score, now), attempt_id)

    def _answer_review(self, attempt: Attempt, score: float | None, now: datetime) -> ReviewChange:
        """The review a graded answer drives, rated on the score it counts for (hints and lateness included)."""
        return self._review(attempt.user_id, attempt.question_id, score, now, attempt.id)

    def _result_for(self, session: InterviewSession, attempt: Attempt) -> ItemResult:
        item = session.current
        kind = item.kind if item else ItemKind.MAIN
        question = self.bank.questions.get(attempt.question_id)
        if attempt.grade is None:
            return ItemResult(
                question_id=attempt.question_id,
                kind=kind,
                outcome=ItemOutcome.FAILED,
                attempt_id=attempt.id,
                hints_used=attempt.hints_used,
                topic=attempt.topic,
            )
        raw = attempt.grade.score
        score = max(0.0, raw - session.config.hint_penalty * attempt.hints_used)
        deadline = session.deadline()
        if deadline is not None and attempt.created_at > deadline:
            score *= LATE_ANSWER_FACTOR
        return ItemResult(
            question_id=attempt.question_id,
            kind=kind,
            outcome=ItemOutcome.GRADED,
            attempt_id=attempt.id,
            raw_score=raw,
            hints_used=attempt.hints_used,
            score=round(score, 2),
            topic=question.topic if question else attempt.topic,
            key_points_covered=[kp.key_point for kp in attempt.grade.verdicts(Verdict.COVERED)],
            key_points_missed=[
                kp.key_point for kp in attempt.grade.key_points if kp.verdict in (Verdict.MISSING, Verdict.INCORRECT)
            ],
            suggested_follow_up=attempt.grade.follow_up,
        )

    # -- hints, skip, reveal, retry, next, end ---------------------------------------------------------------

    async def hint(self, session_id: int, user_id: int, *, item: int | None = None) -> str:
        return await self._act(session_id, user_id, self._hint, item=item)

    async def _hint(self, session: InterviewSession, record: SessionRecord) -> str:
        if session.current is None:
            raise UserFacingError("There's no question to give a hint for.")
        hints = self.bank.get(session.current.question_id).hints
        if session.state == SessionState.AWAITING_ANSWER and session.hints_used >= len(hints):
            raise UserFacingError("No more hints for this question.")
        try:
            index = session.use_hint(len(hints), self.clock.now())
        except InvalidTransitionError as exc:
            raise UserFacingError(str(exc).capitalize() + ".") from None
        await self._save(session, record)
        penalty = session.config.hint_penalty
        return f"{hints[index]} (hints cost {penalty:g} point each)" if penalty else hints[index]

    async def skip(self, session_id: int, user_id: int, *, item: int | None = None) -> SessionView:
        """Skip the current question and move on (skips count as 0 in the report)."""
        return await self._act(
            session_id, user_id, lambda s, r: self._give_up(s, r, ItemOutcome.SKIPPED, move_on=True), item=item
        )

    async def reveal(self, session_id: int, user_id: int, *, item: int | None = None) -> tuple[Question, SessionView]:
        """Show the model answer; the question counts as not answered. Moves to FEEDBACK (Next continues)."""
        view = await self._act(
            session_id, user_id, lambda s, r: self._give_up(s, r, ItemOutcome.REVEALED, move_on=False), item=item
        )
        return self.bank.get(view.session.results[-1].question_id), view

    async def _give_up(
        self, session: InterviewSession, record: SessionRecord, outcome: ItemOutcome, *, move_on: bool
    ) -> SessionView:
        item = _check_awaiting(session)
        now = self.clock.now()
        question = self.bank.get(item.question_id)
        session.skipped(
            ItemResult(
                question_id=item.question_id,
                kind=item.kind,
                outcome=outcome,
                hints_used=session.hints_used,
                topic=question.topic,
                key_points_missed=list(question.key_points) if item.kind != ItemKind.FOLLOW_UP else [],
            ),
            now,
        )
        # A follow-up has no card of its own, and giving up on a retry says nothing new about the question.
        review = self._review(record.user_id, item.question_id, None, now) if item.kind == ItemKind.MAIN else None
        if move_on:
            return await self._advance(session, record, follow_up=False, review=review)
        return await self._save(session, record, review=review)

    async def next(self, session_id: int, user_id: int, *, item: int | None = None) -> SessionView:
        """After feedback: ask a follow-up when one is due, else the next question; finish after the last."""
        return await self._act(session_id, user_id, self._next, item=item)

    async def _next(self, session: InterviewSession, record: SessionRecord) -> SessionView:
        if session.state == SessionState.GRADING:
            raise UserFacingError("Your answer is still being graded; the feedback will arrive in a moment.")
        if session.state != SessionState.FEEDBACK:
            raise UserFacingError("Answer the current question first, or skip it.")
        return await self._advance(session, record, follow_up=True)

    async def retry(self, session_id: int, user_id: int, *, item: int | None = None) -> SessionView:
        """Answer the same question again; the best try counts and history keeps all of them."""
        return await self._act(session_id, user_id, self._retry, item=item)

    async def _retry(self, session: InterviewSession, record: SessionRecord) -> SessionView:
        refusal = retry_refusal(session)
        if refusal is not None:
            raise UserFacingError(refusal)
        last = session.last_result()
        assert last is not None  # noqa: S101 - retry_refusal checked it
        question = self.bank.get(last.question_id)
        now = self.clock.now()
        session.stay(now)
        session.ask(Item(question_id=question.id, kind=ItemKind.RETRY, prompt=question.question), now)
        return await self._save(session, record)

    async def _advance(
        self, session: InterviewSession, record: SessionRecord, *, follow_up: bool, review: ReviewChange | None = None
    ) -> SessionView:
        now = self.clock.now()
        follow_up_item = self._follow_up(session) if follow_up else None
        if follow_up_item is not None:
            session.stay(now)
            session.ask(follow_up_item, now)
        elif session.advance(now):
            session.ask(self._main_item(self.bank.get(session.plan[session.position])), now)
        return await self._save(session, record, review=review)

    def _follow_up(self, session: InterviewSession) -> Item | None:
        last = session.last_result()
        if session.mode != Mode.INTERVIEW or last is None or last.outcome != ItemOutcome.GRADED:
            return None
        if last.score < MIN_SCORE_FOR_FOLLOW_UP:
            return None
        done = session.follow_ups_done(last.question_id)
        if done >= session.config.follow_up_depth:
            return None
        question = self.bank.get(last.question_id)
        # The LLM's suggestion fits the actual answer best; else the bank's next unused follow-up.
        bank_follow_up = question.follow_ups[done] if done < len(question.follow_ups) else None
        text = last.suggested_follow_up or bank_follow_up
        if text is None:
            return None
        return Item(question_id=question.id, kind=ItemKind.FOLLOW_UP, prompt=text, depth=done + 1)

    async def end(self, session_id: int, user_id: int) -> SessionView:
        """End the interview now and build its report (answers already submitted still get graded)."""
        return await self._act(session_id, user_id, self._end, any_item=True)  # ending applies to any state

    async def _end(self, session: InterviewSession, record: SessionRecord) -> SessionView:
        if not session.live:
            return await self._view(session, record)
        session.finish(self.clock.now())
        return await self._save(session, record)

    async def expire_idle(self) -> list[int]:
        """Expire sessions idle longer than their timeout; returns their ids (run periodically by adapters)."""
        now = self.clock.now()
        expired: list[int] = []
        for record in await self.sessions.idle_since(now - _timeout(self.config), limit=100):
            session = InterviewSession.model_validate(record.snapshot)
            if session.is_idle(now):
                session.id = record.id
                session.expire(now)
                try:
                    await self._save(session, record)
                except StaleSessionError:
                    continue  # the user acted just now: not idle any more
                expired.append(record.id or 0)
        return expired

    # -- reading --------------------------------------------------------------------------------------------

    async def get(self, session_id: int) -> SessionView:
        session, record = await self._load(session_id)
        return await self._view(session, record)

    async def active(self, user_id: int, context: str) -> SessionView | None:
        record = await self.sessions.active_for(user_id, context)
        if record is None:
            return None
        return await self._view(self._session_of(record), record)

    async def report(self, session_id: int) -> Report:
        session, _ = await self._load(session_id)
        return await self._report(session)

    async def _report(self, session: InterviewSession) -> Report:
        return build_report(session, self.bank, await self._earlier_overalls(session))

    async def _earlier_overalls(self, session: InterviewSession) -> list[float]:
        """The overall scores of the user's latest earlier interviews (ended or expired, up to `TREND_SESSIONS`),
        each worked out as its own report did, so the trend compares like with like: the raw grades of single
        answers know nothing of best tries, skips, hint penalties or follow-ups. The interviews are found through
        the user's recent answers (an interview with none answered has no score to compare anyway)."""
        history = await self.attempts.history(session.user_id, limit=KNOWLEDGE_WINDOW)
        earlier: list[int] = []  # newest first, as the history is
        for attempt in history:
            sid = attempt.session_id
            if sid is None or sid == session.id or sid in earlier or attempt.created_at >= session.created_at:
                continue
            earlier.append(sid)
            if len(earlier) == TREND_SESSIONS:
                break
        overalls: list[float] = []
        for sid in earlier:
            try:
                before, _ = await self._load(sid)
            except (SessionNotFoundError, ValueError):  # forgotten since, or a snapshot of another kind
                continue
            ended = before.state in (SessionState.FINISHED, SessionState.EXPIRED)
            if ended and before.user_id == session.user_id and before.created_at < session.created_at:
                overall = scored_overall(before, self.bank)
                if overall is not None:
                    overalls.append(overall)
        return overalls

    # -- persistence ----------------------------------------------------------------------------------------

    def _main_item(self, question: Question) -> Item:
        return Item(question_id=question.id, kind=ItemKind.MAIN, prompt=question.question)

    def _record(self, session: InterviewSession, where: Where) -> SessionRecord:
        return SessionRecord(
            id=session.id,
            user_id=session.user_id,
            context=where.context,
            transport=where.transport,
            mode=session.mode.value,
            state=session.state.value,
            active=session.live,
            snapshot=session.model_dump(mode="json"),
            guild_id=where.guild_id,
            channel_id=where.channel_id,
            thread_id=where.thread_id,
        )

    def _updated(self, session: InterviewSession, record: SessionRecord) -> SessionRecord:
        """`record` carrying `session`'s new state (and still the version it was read at, for the save's check)."""
        return record.model_copy(
            update={
                "state": session.state.value,
                "active": session.live,
                "snapshot": session.model_dump(mode="json"),
                "finished_at": session.finished_at,
            }
        )

    async def _save(
        self, session: InterviewSession, record: SessionRecord, *, review: ReviewChange | None = None
    ) -> SessionView:
        stored = await self.sessions.save(self._updated(session, record), review=review)
        return await self._view(session, stored)

    async def _act(
        self,
        session_id: int,
        user_id: int,
        act: Callable[[InterviewSession, SessionRecord], Awaitable[T]],
        *,
        read: tuple[InterviewSession, SessionRecord] | None = None,
        any_item: bool = False,
        item: int | None = None,
    ) -> T:
        """A user's action on their session: read (unless `read`), decide and save (`act`). When the button names
        the `item` it was shown for, the action is refused unless the session is still on that item.

        Saves are version-checked, so when another action saved the session in between (`StaleSessionError`), the
        session is read again and the action re-decided, as if the two had come one after the other. That only
        happens while the session is on the item the action was aimed at (unless `any_item`): a double-clicked
        Skip must not skip the next question too, nor an answer land on a question asked after it was typed."""
        session, record = read or await self._load_owned(session_id, user_id)
        check_item(session, item)
        aimed = session.current
        for _ in range(SAVE_TRIES - 1):
            try:
                return await act(session, record)
            except StaleSessionError:
                session, record = await self._load_owned(session_id, user_id)
                if not any_item and session.current != aimed:
                    raise MovedOnError from None
        return await act(session, record)

    async def _view(self, session: InterviewSession, record: SessionRecord) -> SessionView:
        prompt = None
        if session.state == SessionState.AWAITING_ANSWER and session.current is not None and session.id is not None:
            question = self.bank.get(session.current.question_id)
            hints_left = len(question.hints) - session.hints_used
            prompt = Prompt(
                session.id, question, session.current, session.number, session.total, hints_left, session.item_index
            )
        report = await self._report(session) if not session.live else None
        return SessionView(session=session, record=record, prompt=prompt, report=report)

    def _session_of(self, record: SessionRecord) -> InterviewSession:
        session = InterviewSession.model_validate(record.snapshot)
        session.id = record.id
        return session

    async def _load(self, session_id: int) -> tuple[InterviewSession, SessionRecord]:
        record = await self.sessions.get(session_id)
        return self._session_of(record), record

    async def _load_owned(self, session_id: int, user_id: int) -> tuple[InterviewSession, SessionRecord]:
        session, record = await self._load(session_id)
        _check_owned(session, record, user_id)
        return session, record


def _check_owned(session: InterviewSession, record: SessionRecord, user_id: int) -> None:
    """Refuse an action on someone else's session, or on one that has ended."""
    if record.user_id != user_id:
        raise NotYourSessionError
    if not session.live:
        raise UserFacingError("This interview has ended. Start a new one any time.")


def check_item(session: InterviewSession, item: int | None) -> None:
    """Refuse an action from a button or form shown for `item` once the session has left that item (a second
    click on an old question's Skip must not skip the next one). None: an old button that names no item."""
    if item is not None and session.item_index != item:
        raise OldQuestionError


def retry_refusal(session: InterviewSession) -> str | None:
    """Why the question just answered can't be answered again now (None: it can). The model answer it revealed is
    on the screen, so a retry after a reveal would copy it for full credit: a revealed question stays uncredited.
    A retry asks the main question again, so it isn't offered after a follow-up's feedback either."""
    last = session.last_result()
    if session.state != SessionState.FEEDBACK or last is None:
        return "You can retry a question once its feedback is shown."
    if last.outcome == ItemOutcome.REVEALED:
        return "The model answer was shown for this question, so it can't be retried: it counts as not answered."
    if last.kind == ItemKind.FOLLOW_UP:
        return "A follow-up can't be retried: continue to the next question."
    return None


def _check_awaiting(session: InterviewSession) -> Item:
    """The item waiting for an answer; a `UserFacingError` when none is."""
    if session.state != SessionState.AWAITING_ANSWER or session.current is None:
        raise UserFacingError("There's no question waiting for an answer in this interview right now.")
    return session.current


def _id(record: SessionRecord) -> int:
    if record.id is None:  # pragma: no cover - a record read from storage always has its id
        raise ValueError("the session record has no id")
    return record.id


def _timeout(config: SessionConfig) -> timedelta:
    return timedelta(seconds=config.idle_timeout_s)


def _drives_a_review(attempt: Attempt) -> bool:
    """A graded answer to a question reviews its card; a follow-up has no card of its own, and a retry seconds after
    the feedback would count as a second review of the same recall (the first answer's review stands)."""
    graded = attempt.status == AttemptStatus.GRADED and attempt.grade is not None
    return graded and attempt.kind not in (ItemKind.FOLLOW_UP, ItemKind.RETRY)


def _shows_grade(session: InterviewSession, attempt: Attempt) -> bool:
    """Whether the session already recorded this attempt's grade (a failed grading it recorded doesn't count)."""
    return any(r.attempt_id == attempt.id and r.outcome == ItemOutcome.GRADED for r in session.results)


def _graded_score(attempt: Attempt) -> float | None:
    return attempt.grade.score if attempt.grade is not None else None
