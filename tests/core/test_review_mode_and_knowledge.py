"""Review mode serves the due cards this bank serves here, and selection judges a question by its own answers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.custom_bank import GuildBank, current_guild, namespaced
from bot.core.models import Attempt, AttemptStatus, GradeResult, Transport
from bot.core.selection import UserKnowledge
from bot.core.service import InterviewService, NothingDueError, Where
from bot.core.session import Mode
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.progress import SqlProgressRepository
from bot.storage.sessions import SqlSessionRepository
from tests.core.conftest import TERMINAL

USER = 42
GUILD = 7


@pytest.fixture
def guild_bank(bank) -> GuildBank:
    """The fixture bank plus five questions of GUILD's own topic."""
    guild_bank = GuildBank(bank)
    base = bank.questions["alpha.q1"]
    customs = [
        base.model_copy(update={"id": namespaced(GUILD, f"c{i}"), "topic": namespaced(GUILD, "company")})
        for i in range(5)
    ]
    guild_bank.set_topic(GUILD, "company", customs)
    return guild_bank


@pytest.fixture
def in_guild() -> Iterator[None]:
    """Run as a command in GUILD does (the tree sets `current_guild` per interaction)."""
    token = current_guild.set(GUILD)
    yield
    current_guild.reset(token)


@pytest.fixture
async def review_service(guild_bank, engine, clock) -> InterviewService:
    """A service over `guild_bank`; the guild's five questions are due since a week ago (c4 first), `alpha.q2` since
    yesterday."""
    progress = SqlProgressRepository(engine, clock)
    for i in range(5):
        await progress.upsert_review(USER, namespaced(GUILD, f"c{i}"), {}, clock.now() - timedelta(days=7, minutes=i))
    await progress.upsert_review(USER, "alpha.q2", {}, clock.now() - timedelta(days=1))
    return InterviewService(
        guild_bank,
        SqlSessionRepository(engine, clock),
        SqlAttemptRepository(engine, clock),
        progress,
        clock=clock,
        rng_factory=lambda: random.Random(1),
    )


async def test_due_cards_of_another_servers_questions_do_not_block_review_mode(review_service) -> None:
    """Outside GUILD its questions are not served; their cards, due first, must not fill the limit."""
    try:
        view = await review_service.start(USER, TERMINAL, Mode.REVIEW, count=5)
    except NothingDueError:
        pytest.fail("alpha.q2 is due, but the other server's five due cards filled the limit")
    assert view.session.plan == ["alpha.q2"]


@pytest.mark.usefixtures("in_guild")
async def test_review_mode_in_a_server_serves_its_due_questions_but_not_removed_ones(
    review_service, guild_bank
) -> None:
    guild_bank.remove(GUILD, [namespaced(GUILD, "c4")])  # the oldest due card
    where = Where(context=f"guild:{GUILD}", transport=Transport.THREAD, guild_id=GUILD)
    view = await review_service.start(USER, where, Mode.REVIEW, count=3)
    assert view.session.plan == [namespaced(GUILD, "c3"), namespaced(GUILD, "c2"), namespaced(GUILD, "c1")]


async def test_only_due_cards_this_bank_serves_count_as_something_due(review_service, engine, clock) -> None:
    """What /interview review checks before it opens a thread: nothing servable due, nothing to open."""
    assert await review_service.anything_due(USER)  # alpha.q2
    await SqlProgressRepository(engine, clock).upsert_review(USER, "alpha.q2", {}, clock.now() + timedelta(days=3))
    assert not await review_service.anything_due(USER)  # only another server's questions are due


def test_a_good_follow_up_does_not_make_a_weak_question_mastered() -> None:
    """A follow-up shares its main question's id but is graded against a narrower prompt."""
    now = datetime(2026, 11, 2, tzinfo=UTC)

    def attempt(attempt_id: int, score: float, kind: str) -> Attempt:
        return Attempt(
            id=attempt_id,
            user_id=USER,
            question_id="alpha.q1",
            topic="alpha",
            answer="x",
            status=AttemptStatus.GRADED,
            created_at=now,
            grade=GradeResult(score=score, grader="test"),
            kind=kind,
        )

    knowledge = UserKnowledge.from_attempts([attempt(1, 2.0, "answer"), attempt(2, 9.0, "follow_up")])
    assert knowledge.questions["alpha.q1"].best == 2.0
    assert knowledge.topic_average == {"alpha": 2.0}
