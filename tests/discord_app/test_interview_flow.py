"""A guild mock interview end to end through the loopback Discord: thread, buttons, modal, feedback, report."""

from __future__ import annotations

import re

from tests.discord_app.conftest import GatedGrader, bot_messages, button, custom_ids, embed_titles
from tests.fakes.discord_server import EPHEMERAL, PRIVATE_THREAD, FakeDiscord


async def _start_guild_interview(fake: FakeDiscord, user: dict, **options):
    interaction = await fake.slash("interview start", {"questions": 2, **options}, user=user, guild=fake.guild)
    callback = await interaction.wait_callback()
    assert callback.json["type"] == 5  # deferred, well inside 3 s
    assert callback.json["data"]["flags"] & EPHEMERAL
    thread = (await fake.wait_until(fake.threads, 10, "a thread"))[0]
    question = await fake.wait_until(lambda: bot_messages(fake, thread["id"]), 10, "the first question")
    return interaction, thread, question[0]


async def test_interview_start_opens_a_private_thread_with_the_question_and_buttons(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("ada")
    async with launch():
        interaction, thread, question = await _start_guild_interview(fake, user)

        create = fake.find_calls("POST", rf"^/channels/{fake.text_channel['id']}/threads$")[0]
        assert create.json["type"] == PRIVATE_THREAD
        assert create.json["invitable"] is False
        assert fake.find_calls("PUT", rf"^/channels/{thread['id']}/thread-members/{user['id']}$")
        assert embed_titles(question)[0] == "Question 1 of 2"
        session_ids = {cid.split(":")[2] for cid in custom_ids(question)}
        assert len(session_ids) == 1
        actions = [cid.split(":")[1] for cid in custom_ids(question)]
        assert actions == ["answer", "hint", "skip", "reveal", "end"]
        pointer = await interaction.wait_webhook("POST")
        assert thread["id"] in pointer.json["content"]


async def test_answer_button_modal_and_background_feedback(fake: FakeDiscord, launch, grader: GatedGrader) -> None:
    user = fake.make_user("grace")
    async with launch():
        _, _thread, question = await _start_guild_interview(fake, user)
        answer_id = next(c for c in custom_ids(question) if c.startswith("iv:answer:"))

        grader.hold()
        press = await fake.click(answer_id, user=user, message=question)
        callback = await press.wait_callback()
        assert callback.json["type"] == 9
        modal = callback.json["data"]
        assert modal["custom_id"] == f"iv:answer-modal:{answer_id.split(':', 2)[2]}"  # session and item
        text_input = modal["components"][0]["components"][0]
        assert (text_input["style"], text_input["max_length"]) == (2, 4000)

        submit = await fake.submit_modal(press, "Mode collapse is when the generator maps many inputs to few outputs.")
        assert (await submit.wait_callback()).json["type"] == 5
        saved = await submit.wait_webhook("POST")
        assert "Answer saved" in saved.json["content"]
        graded = await fake.wait_until(lambda: grader.calls, 10, "the grader to be called")
        assert "Mode collapse" in graded[0][1]
        assert not submit.followups()  # the grade is held: no feedback yet

        grader.release()  # grading happens in the background; the feedback is a second followup
        feedback = await fake.wait_until(lambda: submit.followups(), 10, "the feedback followup")
        assert embed_titles(feedback[0])[0] == "Feedback"
        assert "7.0 / 10" in feedback[0]["embeds"][0]["description"]
        assert [cid.split(":")[1] for cid in custom_ids(feedback[0])] == ["next", "retry", "end"]


async def test_next_removes_old_buttons_and_asks_again_then_end_reports(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("linus")
    async with launch():
        _, _thread, question = await _start_guild_interview(fake, user)
        session_id = custom_ids(question)[0].split(":")[2]

        skip = await fake.click(button(question, "skip"), user=user, message=question)
        assert (await skip.wait_callback()).json["type"] == 6  # deferred update of the question message
        edit = await skip.wait_webhook("PATCH", "/messages/@original")
        assert edit.json["components"] == []
        second = await fake.wait_until(lambda: skip.webhook_calls()[1:], 10, "the next question")
        assert second[-1].json["embeds"][0]["title"] == "Question 2 of 2"

        end = await fake.click(f"iv:end:{session_id}", user=user)
        await end.wait_callback()
        report = await fake.wait_until(lambda: [c for c in end.webhook_calls() if c.method == "POST"], 10, "the report")
        assert report[0].json["embeds"][0]["title"] == "Interview report"
        assert "answered 0, skipped 1" in report[0].json["embeds"][0]["description"]


async def test_hint_is_ephemeral_and_only_the_owner_may_press_buttons(fake: FakeDiscord, launch) -> None:
    owner, intruder = fake.make_user("owner-of-session"), fake.make_user("intruder")
    async with launch():
        _, _, question = await _start_guild_interview(fake, owner)

        hint = await fake.click(button(question, "hint"), user=owner, message=question)
        assert (await hint.wait_callback()).json == {"type": 5, "data": {"flags": EPHEMERAL}}
        text = (await hint.wait_webhook("POST")).json["content"]
        assert text.startswith("💡")

        stolen = await fake.click(button(question, "hint"), user=intruder, message=question)
        await stolen.wait_callback()
        refusal = await stolen.wait_webhook("POST")
        assert "belongs to someone else" in refusal.json["content"]
        assert refusal.json["flags"] & EPHEMERAL

        modal = await fake.click(button(question, "answer"), user=intruder, message=question)
        refused = await modal.wait_callback()
        assert refused.json["type"] == 4 and "someone else" in refused.json["data"]["content"]


async def test_reveal_shows_the_model_answer_with_next(fake: FakeDiscord, launch, bank) -> None:
    user = fake.make_user("hopper")
    async with launch():
        _, _, question = await _start_guild_interview(fake, user)
        question_id = question["embeds"][0]["footer"]["text"].split(" ")[0]

        reveal = await fake.click(button(question, "reveal"), user=user, message=question)
        await reveal.wait_callback()
        shown = await fake.wait_until(lambda: [c for c in reveal.webhook_calls() if c.method == "POST"], 10, "reveal")
        embed = shown[0].json["embeds"][0]
        assert embed["title"] == "Model answer"
        assert bank.get(question_id).reference_answer[:60] in embed["description"]
        assert [re.sub(r"(:\d+)+$", "", c["custom_id"]) for c in shown[0].json["components"][0]["components"]] == [
            "iv:next",
            "iv:end",
        ]


async def test_guild_without_private_threads_falls_back_to_ephemeral_messages(fake: FakeDiscord, launch) -> None:
    guild = fake.add_guild("No Threads", allow_private_threads=False)
    user = fake.make_user("eve")
    async with launch():
        interaction = await fake.slash("interview start", {"questions": 1}, user=user, guild=guild)
        await interaction.wait_callback()
        question = await interaction.wait_webhook("POST")
        assert question.json["flags"] & EPHEMERAL
        assert question.json["embeds"][0]["title"] == "Question 1 of 1"
        assert not fake.threads()


async def test_a_second_interview_in_the_same_place_is_refused_kindly(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("twice")
    async with launch():
        await _start_guild_interview(fake, user)
        again = await fake.slash("interview start", user=user, guild=fake.guild)
        await again.wait_callback()
        reply = await again.wait_webhook("POST")
        assert "already have an interview running" in reply.json["content"]
        assert len(fake.threads()) == 1


async def test_a_failed_start_removes_the_thread_it_opened(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("typo")
    async with launch():
        interaction = await fake.slash("interview start", {"topic": "no-such-topic"}, user=user, guild=fake.guild)
        await interaction.wait_callback()
        reply = await interaction.wait_webhook("POST")
        assert "Unknown topic" in reply.json["content"]
        deleted = await fake.wait_for_call("DELETE", r"^/channels/\d+$", 5)
        assert deleted.status == 200
        assert not fake.threads()
