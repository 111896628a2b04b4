"""The bad-input corpus (`tests/data/bad_inputs.jsonl`) through the Discord adapter: every hostile answer typed in
the Answer form and sent by DM is saved whole (or refused with a clear reason), graded, and its feedback is
delivered; nothing the bot sends breaks a Discord limit or can ping anyone.

The grader here is the worst case for the adapter: it echoes the candidate's text into every field it writes
(key-point evidence, strengths, improvements, follow-up), as a model talked into it by an injection might. The
loopback Discord rejects any message over Discord's limits (400), and the `fake` fixture checks on teardown that
every message body carries `allowed_mentions: {"parse": []}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select

from bot.core.models import GradeResult, KeyPointResult, Rubric, Verdict, storable_text
from bot.discord_app.exts.interview._modals import ANSWER_MAX_CHARS
from bot.storage.tables import attempts
from tests.discord_app.conftest import bot_messages, custom_ids, embed_titles
from tests.fakes.discord_server import FakeDiscord
from tests.reliability._corpus import CORPUS, BadInput

BATCH = 16


class EchoGrader:
    """Writes the answer back into every field of the grade."""

    name = "echo"

    def __init__(self) -> None:
        self.answers: list[str] = []

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        self.answers.append(answer)
        return GradeResult(
            score=3.0,
            key_points=[
                KeyPointResult(key_point=kp, verdict=Verdict.PARTIAL, evidence=answer) for kp in rubric.key_points
            ],
            strengths=[answer],
            improvements=[answer, answer],
            follow_up=answer,
            grader="echo",
            model="echo-1",
        )


def _blank(text: str) -> bool:
    return not text.strip()


async def _in_batches(items: Sequence[Any], run: Callable[[Any], Awaitable[None]]) -> None:
    for start in range(0, len(items), BATCH):
        await asyncio.gather(*(run(item) for item in items[start : start + BATCH]))


async def _stored_answers(bot) -> dict[int, str]:
    async with bot.runtime.queue.engine.connect() as connection:
        rows = (await connection.execute(select(attempts.c.user_id, attempts.c.answer))).all()
    return {int(user_id): answer for user_id, answer in rows}


def _assert_outgoing_is_safe(fake: FakeDiscord) -> None:
    rejected = [f"{c.method} {c.path} -> {c.status} {c.response}" for c in fake.calls if c.status >= 400]
    assert not rejected, rejected[:5]  # the fake refuses what Discord refuses: lengths, embed totals, fields
    for call in fake.calls:
        body = call.body if isinstance(call.body, dict) else None
        if body is None or call.method not in ("POST", "PATCH"):
            continue
        message = body.get("data") if "type" in body and "data" in body else body
        if isinstance(message, dict) and (message.get("content") or message.get("embeds")):
            assert message.get("allowed_mentions") == {"parse": []}, f"{call.method} {call.path} may ping"


MODAL = [e for e in CORPUS if 1 <= len(e.text()) <= ANSWER_MAX_CHARS]  # what Discord's Answer form accepts


async def test_every_bad_input_in_the_answer_form_is_saved_graded_and_delivered_safely(
    fake: FakeDiscord, launch
) -> None:
    grader = EchoGrader()
    outcome: dict[str, str] = {}
    users: dict[str, dict[str, Any]] = {}

    async def answer(entry: BadInput) -> None:
        user = users[entry.id] = fake.make_user(entry.id[:30])
        start = await fake.slash("practice", user=user, guild=fake.guild)
        question = (await start.wait_webhook("POST", timeout=20)).json
        session_id = custom_ids(question)[0].split(":")[2]
        message, answer_id = fake.find_component(f"^iv:answer:{session_id}:")
        press = await fake.click(answer_id, user=user, message=message)
        await press.wait_callback(timeout=10)
        # A person needs seconds to type; a test must at least let discord.py register the modal it just sent.
        await fake.wait_until(lambda: bot.modal_is_registered(f"iv:answer-modal:{session_id}:0"), 5, "modal stored")
        submit = await fake.submit_modal(press, entry.text())
        assert (await submit.wait_callback(timeout=10)).status == 200, entry.id
        reply = (await submit.wait_webhook("POST", timeout=20)).json["content"]
        if _blank(entry.text()):
            assert "Your answer is empty" in reply, (entry.id, reply)
            outcome[entry.id] = "refused"
            return
        assert f"({len(entry.text())} characters" in reply, (entry.id, reply)
        feedback = await fake.wait_until(submit.followups, 30, f"feedback for {entry.id}")
        assert [embed_titles(m)[0] for m in feedback][:1] == ["Feedback"], entry.id
        outcome[entry.id] = "graded"

    async with launch(grader_override=grader) as bot:
        await _in_batches(MODAL, answer)
        stored = await _stored_answers(bot)

    assert len(outcome) == len(MODAL) >= 100
    for entry in MODAL:
        user_id = int(users[entry.id]["id"])
        if outcome[entry.id] == "graded":
            assert stored[user_id] == storable_text(entry.text()), f"{entry.id}: the answer was not kept whole"
        else:
            assert user_id not in stored, entry.id
    assert len(grader.answers) == sum(1 for o in outcome.values() if o == "graded")
    _assert_outgoing_is_safe(fake)


DM = [e for e in CORPUS if not _blank(e.text())]  # Discord doesn't send a blank message


async def test_every_bad_input_by_dm_is_saved_whole_and_answered_within_limits(fake: FakeDiscord, launch) -> None:
    grader = EchoGrader()
    users: dict[str, dict[str, Any]] = {}
    replies: dict[str, str] = {}

    async def answer(entry: BadInput) -> None:
        user = users[entry.id] = fake.make_user(entry.id[:30])
        start = await fake.slash("practice", user=user)
        await start.wait_webhook("POST", timeout=20)  # the question
        dm = fake.dm_channel_for(user)
        await fake.dm_message(user, entry.text())
        saved = await fake.wait_for_call(
            "POST",
            rf"^/channels/{dm['id']}/messages$",
            20,
            predicate=lambda c: "Answer saved" in (c.json.get("content") or ""),
        )
        replies[entry.id] = saved.json["content"]
        await fake.wait_until(
            lambda: [m for m in bot_messages(fake, dm["id"]) if "Feedback" in embed_titles(m)],
            30,
            f"feedback {entry.id}",
        )

    async with launch(grader_override=grader) as bot:
        await _in_batches(DM, answer)
        stored = await _stored_answers(bot)

    for entry in DM:
        assert stored[int(users[entry.id]["id"])] == storable_text(entry.text()), f"{entry.id} lost characters"
        length = len(entry.text())
        assert f"({length:,} characters" in replies[entry.id], entry.id
        if length > ANSWER_MAX_CHARS:  # longer than the form allows: kept whole, and the user knows what to do
            assert "All of it is kept" in replies[entry.id]
            assert f"answer in at most {ANSWER_MAX_CHARS:,} characters" in replies[entry.id]
        else:
            assert "\n" not in replies[entry.id], entry.id
    assert any(len(e.text()) >= 100_000 for e in DM), "the corpus has a 100k-character answer"
    _assert_outgoing_is_safe(fake)
