"""A modal submit is acknowledged before the bot reads its database, and the acknowledgement is as private as the
question the candidate answered (benchmarks/ack.py measures how fast)."""

from __future__ import annotations

import pytest

from tests.discord_app.conftest import bot_messages, custom_ids
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord, FakeInteraction


async def _question(fake: FakeDiscord, where: str, user: dict) -> dict:
    if where == "dm":
        start = await fake.slash("practice", user=user)
    elif where == "server channel":
        start = await fake.slash("practice", user=user, guild=fake.guild)
    else:
        start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
        await start.wait_callback()
        thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
        return (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
    await start.wait_callback()
    await start.wait_webhook("POST")
    return start.original_message


async def _open_modal(fake: FakeDiscord, question: dict, user: dict) -> FakeInteraction:
    answer_id = next(c for c in custom_ids(question) if c.startswith("iv:answer:"))
    press = await fake.click(answer_id, user=user, message=question)
    assert (await press.wait_callback()).json["type"] == 9
    return press


@pytest.mark.parametrize(
    ("where", "private"),
    [("dm", False), ("server channel", True), ("interview thread", False)],
    ids=["dm-public", "channel-ephemeral", "thread-public"],
)
async def test_modal_submit_is_deferred_as_privately_as_its_question(
    fake: FakeDiscord, launch, where: str, private: bool
) -> None:
    user = fake.make_user("ack")
    async with launch():
        question = await _question(fake, where, user)
        assert bool(question["flags"] & EPHEMERAL) == private
        submit = await fake.submit_modal(await _open_modal(fake, question, user), "An answer about GAN training.")
        callback = await submit.wait_callback()
        assert callback.json["type"] == 5
        assert bool((callback.json.get("data") or {}).get("flags", 0) & EPHEMERAL) == private
        saved = await submit.wait_webhook("POST")
        assert "Answer saved" in saved.json["content"]


async def test_modal_submit_for_an_unknown_session_is_acknowledged_then_explained(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("ghost")
    async with launch():
        question = await _question(fake, "dm", user)
        press = await _open_modal(fake, question, user)
        press.modal = {**press.modal, "custom_id": "iv:answer-modal:999999"}  # a session this bot never had
        submit = await fake.submit_modal(press, "An answer to nothing.")
        assert (await submit.wait_callback()).json["type"] == 5  # acknowledged before the lookup fails
        explained = await submit.wait_webhook("POST")
        assert explained.json["content"]


async def test_rest_calls_share_a_bounded_pool_of_kept_alive_connections(fake: FakeDiscord, launch) -> None:
    # discord.py's default pool is unbounded: a burst of callbacks opened one new connection each.
    from bot.discord_app.client import HTTP_CONNECTIONS

    async with launch() as bot:
        connector = bot.http.connector
        assert connector.limit == HTTP_CONNECTIONS
        assert not connector.force_close
