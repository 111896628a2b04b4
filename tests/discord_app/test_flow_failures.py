"""When a step of the interview flow fails, the user is not left worse off: a hint longer than a message is still
shown, an answer the bot could not store comes back to its writer (and is never said to be saved), and an interview
whose first question could not be shown does not block the next one. A server's session answered from the user's DM
keeps that server's daily caps."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from bot.core.models import Question
from bot.core.question_bank import QuestionBank
from bot.discord_app.embeds import CONTENT_LIMIT
from bot.discord_app.exts.interview._flow import given_back
from bot.storage.accounts import SqlAccountRepository
from tests.discord_app.conftest import GatedGrader, ManualClock, bot_messages, button, custom_ids, embed_titles
from tests.discord_app.test_old_question_buttons import _interview
from tests.fakes.discord_server import EPHEMERAL, FakeDiscord, FakeInteraction

LONG_HINT = " ".join(["Think about the discriminator's gradient when it wins too easily."] * 32)  # ~2,100 chars
ANSWER = "A careful answer I spent ten minutes writing about mode collapse and its remedies."
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}


@pytest.fixture
def bank(bank: QuestionBank) -> QuestionBank:
    """The shipped bank, its GAN questions with one hint longer than a message (a custom bank may hold one)."""
    questions = {
        qid: Question.model_validate({**q.model_dump(), "hints": [LONG_HINT]}) if q.topic == "gans" else q
        for qid, q in bank.questions.items()
    }
    return QuestionBank(questions=questions, topics=dict(bank.topics))


def _blocks(messages: list[str]) -> str:
    """The text inside the code blocks of `messages`, joined, without the spaces that break runs of backticks."""
    return "".join("".join(re.findall(r"```\n(.*?)\n```", m, flags=re.DOTALL)) for m in messages).replace("\u200b", "")


async def _open_form(fake: FakeDiscord, user: dict[str, Any]) -> tuple[FakeInteraction, int]:
    """A /practice question in the server's channel with its Answer form opened, and the session id."""
    start = await fake.slash("practice", user=user, guild=fake.guild)
    session_id = int(custom_ids((await start.wait_webhook("POST")).json)[0].split(":")[2])
    message, answer_id = fake.find_component(f"^iv:answer:{session_id}:")
    press = await fake.click(answer_id, user=user, message=message)
    await press.wait_callback()
    return press, session_id


async def test_a_hint_longer_than_a_message_is_shown_in_an_embed(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("hint-seeker")
    async with launch() as bot:
        start = await fake.slash("interview start", {"questions": 1, "topic": "gans"}, user=user, guild=fake.guild)
        await start.wait_callback()
        thread = (await fake.wait_until(fake.threads, 10, "thread"))[0]
        question = (await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "question"))[0]
        session_id = int(button(question, "hint").split(":")[2])

        hint = await fake.click(button(question, "hint"), user=user, message=question)
        await hint.wait_callback()
        shown = await hint.wait_webhook("POST")
        assert shown.status == 200 and shown.json["flags"] & EPHEMERAL
        assert embed_titles(shown.json) == ["💡 Hint"]
        assert LONG_HINT in shown.json["embeds"][0]["description"]
        assert (await bot.runtime.service.get(session_id)).session.hints_used == 1


async def test_a_failed_save_returns_the_answer_and_does_not_claim_it_was_saved(
    fake: FakeDiscord, launch, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    user = fake.make_user("unlucky-writer")
    async with launch() as bot:
        press, _ = await _open_form(fake, user)

        async def locked(*args: object, **kwargs: object) -> None:
            raise OperationalError("UPDATE sessions ...", {}, Exception("database is locked"))

        monkeypatch.setattr(bot.runtime.service, "submit_answer", locked)
        with caplog.at_level(logging.ERROR, logger="bot.discord_app.tree"):
            submit = await fake.submit_modal(press, ANSWER)
            reply = (await submit.wait_webhook("POST")).json
        assert reply["flags"] & EPHEMERAL
        assert "saved" not in reply["content"]
        assert _blocks([reply["content"]]) == ANSWER
        error_id = re.search(r"error `([0-9a-f]+)`", reply["content"])
        assert error_id and any(error_id[1] in r.getMessage() and r.exc_info for r in caplog.records)
        assert not await bot.runtime.attempts.history(int(user["id"]))


async def test_an_answer_to_an_interview_that_expired_while_typing_is_given_back(
    fake: FakeDiscord, launch, clock: ManualClock
) -> None:
    user = fake.make_user("slow-writer")
    async with launch() as bot:
        question, session_id = await _interview(fake, user, questions=2)
        press = await fake.click(button(question, "answer"), user=user, message=question)
        await press.wait_callback()
        clock.advance(65 * 60)  # typing for over an hour: the interview expires meanwhile
        fake.advance(65 * 60)
        assert await bot.runtime.service.expire_idle() == [session_id]  # what the expiry loop does every minute

        submit = await fake.submit_modal(press, ANSWER)
        reply = (await submit.wait_webhook("POST")).json
        assert "This interview has ended" in reply["content"] and reply["flags"] & EPHEMERAL
        assert _blocks([reply["content"]]) == ANSWER
        assert not await bot.runtime.attempts.history(int(user["id"]))


async def test_a_long_refused_answer_comes_back_whole_in_messages_discord_accepts(
    fake: FakeDiscord, launch, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = fake.make_user("verbose-writer")
    paragraph = "Mode collapse: the generator maps many z to one x. ```python\nloss = bce(d(g(z)), ones)\n``` " * 50
    answer = (paragraph + "`" * 5 + " tail")[:4000]
    async with launch() as bot:
        press, session_id = await _open_form(fake, user)
        await bot.runtime.service.end(session_id, int(user["id"]))

        submit = await fake.submit_modal(press, answer)
        await fake.wait_until(lambda: len([c for c in submit.webhook_calls() if c.method == "POST"]) >= 3, 10, "3")
        replies = [c.json["content"] for c in submit.webhook_calls() if c.method == "POST"]
        assert all(c.status == 200 for c in submit.webhook_calls())
        assert "This interview has ended" in replies[0]
        assert _blocks(replies) == answer


def test_an_answer_given_back_fits_discords_limits_and_its_backticks_stay_inside_their_block() -> None:
    answer = ("````" + "x" * 997 + "\n") * 4  # runs of backticks, lines of ~1,000 characters
    messages = given_back("This interview has ended.", answer)
    assert messages[0].startswith("This interview has ended.")
    assert all(len(m) <= CONTENT_LIMIT for m in messages)
    for message in messages:
        inside = re.findall(r"```\n(.*?)\n```", message, flags=re.DOTALL)
        assert inside and not any("```" in block for block in inside)
    assert _blocks(messages) == answer
    assert given_back("Refused.", "  ") == ["Refused."]


async def test_an_interview_whose_first_question_never_reached_its_thread_does_not_block_the_next(
    fake: FakeDiscord, launch
) -> None:
    user = fake.make_user("blocked")
    async with launch() as bot:
        fake.fail_next("POST", r"^/channels/\d+/messages$", status=403, body=MISSING_ACCESS)
        start = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
        await start.wait_callback()
        assert "Something went wrong" in (await start.wait_webhook("POST")).json["content"]
        await fake.wait_until(lambda: not fake.threads(), 10, "the empty thread deleted")
        assert await bot.runtime.service.active(int(user["id"]), f"guild:{fake.guild['id']}") is None

        again = await fake.slash("interview start", {"questions": 1}, user=user, guild=fake.guild)
        await again.wait_callback()
        assert "Your interview is ready" in (await again.wait_webhook("POST")).json["content"]


async def test_a_practice_whose_question_could_not_be_shown_does_not_block_the_next(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("blocked-practice")
    async with launch():
        fake.fail_next("POST", r"^/webhooks/", status=403, body=MISSING_ACCESS)
        start = await fake.slash("practice", user=user, guild=fake.guild)
        await start.wait_callback()
        await fake.wait_until(lambda: [c for c in start.webhook_calls() if c.status == 200], 10, "the error")

        again = await fake.slash("practice", user=user, guild=fake.guild)
        await again.wait_callback()
        assert embed_titles((await again.wait_webhook("POST")).json)[0].startswith("Question 1 of 1")


async def test_a_servers_per_member_cap_holds_for_its_session_answered_in_dm(
    fake: FakeDiscord, launch, grader: GatedGrader, clock: ManualClock
) -> None:
    user = fake.make_user("capped-member")
    guild_id = int(fake.guild["id"])
    async with launch(grader="llm", daily_llm_quota=100) as bot:
        accounts = SqlAccountRepository(bot.runtime.attempts.engine, bot.runtime.clock)
        await accounts.update_guild_settings(guild_id, {"llm_quota_per_member": 1})
        grader.hold()
        press, session_id = await _open_form(fake, user)
        submit = await fake.submit_modal(press, "My one answer allowed today in this server.")
        assert "Answer saved" in (await submit.wait_webhook("POST")).json["content"]
        await fake.wait_until(lambda: grader.calls, 10, "grading")
        clock.advance(16 * 60)  # a slow queue: the token is gone when the grade is ready, so it goes to the DM
        fake.advance(16 * 60)
        grader.release()
        dm_feedback = (
            await fake.wait_until(lambda: [m for m in fake.dms_to(user) if "Feedback" in embed_titles(m)], 10, "DM")
        )[0]

        retry = await fake.click(button(dm_feedback, "retry"), user=user, message=dm_feedback)
        await retry.wait_callback()
        await retry.wait_webhook("POST")  # the question again, in the DM
        question, answer_id = fake.find_component(f"^iv:answer:{session_id}:")
        assert int(question["channel_id"]) == int(fake.dm_channel_for(user)["id"])
        press = await fake.click(answer_id, user=user, message=question)
        await press.wait_callback()
        submit = await fake.submit_modal(press, "A second answer, over this server's per-member cap.")
        assert "daily limit per member" in (await submit.wait_webhook("POST")).json["content"]
        assert len(await bot.runtime.attempts.history(int(user["id"]))) == 1
