"""The Discord suite's key flows on PostgreSQL (the engine shared by sharded bot processes and workers): a guild
interview from start to report, a typed DM answer, and a restart with an answer waiting to be graded.

Each flow runs on SQLite and on a fresh PostgreSQL database (migrated by the bot at start, as `run` does); the
PostgreSQL half is skipped with the reason when `MOCKINTERVIEW_TEST_POSTGRES_URL` is unset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discord_app.conftest import GatedGrader, bot_messages, button, custom_ids, embed_titles
from tests.fakes.discord_server import FakeDiscord
from tests.storage.conftest import PG_ENV, create_pg_database, drop_pg_database, postgres_url


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'flows.db'}"
        return
    if postgres_url() is None:
        pytest.skip(f"PostgreSQL flows need {PG_ENV} (e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test)")
    url = create_pg_database()  # empty: the bot migrates it at start
    yield url
    drop_pg_database(url)


async def _interview(fake: FakeDiscord, user: dict) -> tuple[dict, dict, str]:
    start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
    await start.wait_callback()
    thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
    question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    return thread, question, custom_ids(question)[0].split(":")[2]


async def test_guild_interview_from_start_to_report(fake: FakeDiscord, launch, database: str) -> None:
    user = fake.make_user("pg-candidate")
    async with launch(database_url=database) as bot:
        assert bot.runtime.queue.engine.dialect.name == ("sqlite" if database.startswith("sqlite") else "postgresql")
        _, question, session_id = await _interview(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        await press.wait_callback()
        submit = await fake.submit_modal(press, "Mode collapse: the generator covers only a few modes.")
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
        feedback = await fake.wait_until(submit.followups, 15, "feedback")
        assert embed_titles(feedback[0])[0] == "Feedback"

        end = await fake.click(f"iv:end:{session_id}", user=user, message=feedback[0])
        await end.wait_callback()
        report = await fake.wait_until(lambda: [c for c in end.webhook_calls() if c.method == "POST"], 10, "report")
        assert report[0].json["embeds"][0]["title"] == "Interview report"
        assert "answered 1" in report[0].json["embeds"][0]["description"]

        history = await fake.slash("history", user=user, guild=fake.guild)
        await history.wait_callback()
        listed = (await history.wait_webhook("POST")).json
        assert "7.0" in str(listed["embeds"])


async def test_typed_dm_answer_is_graded_and_delivered(fake: FakeDiscord, launch, database: str) -> None:
    user = fake.make_user("pg-dm")
    async with launch(database_url=database):
        practice = await fake.slash("practice", {"topic": "gans"}, user=user)
        await practice.wait_webhook("POST")
        dm = fake.dm_channel_for(user)
        await fake.dm_message(user, "The discriminator learns to tell real from generated samples.")
        await fake.wait_until(
            lambda: [m for m in bot_messages(fake, dm["id"]) if "Feedback" in embed_titles(m)], 15, "DM feedback"
        )


async def test_answer_saved_before_a_restart_is_graded_after_it(
    fake: FakeDiscord, launch, grader: GatedGrader, database: str
) -> None:
    user = fake.make_user("pg-restart")
    async with launch(database_url=database, background=False):  # this process never grades
        _, question, _ = await _interview(fake, user)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        await press.wait_callback()
        submit = await fake.submit_modal(press, "Saved in PostgreSQL before the restart.")
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
    assert not submit.followups()

    async with launch(database_url=database):
        feedback = await fake.wait_until(submit.followups, 15, "feedback after the restart")
        assert embed_titles(feedback[0])[0] == "Feedback"
        assert len(feedback) == 1
    assert [answer for _, answer in grader.calls] == ["Saved in PostgreSQL before the restart."]
