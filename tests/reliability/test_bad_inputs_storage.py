"""Every bad input saved as an answer and read back: byte-identical when storable, else explicitly cleaned."""

from __future__ import annotations

import pytest

from bot.core.models import REPLACEMENT_CHARACTER, AnswerSubmission, storable_text
from bot.storage.attempts import SqlAttemptRepository
from tests.reliability._corpus import CORPUS


async def test_every_bad_input_round_trips_through_storage(engine):
    repo = SqlAttemptRepository(engine)
    texts = [entry.text() for entry in CORPUS]
    stored = await repo.submit_answers(
        [AnswerSubmission(user_id=7, question_id="gans.mode-collapse", topic="gans", answer=t) for t in texts]
    )
    for entry, text, attempt in zip(CORPUS, texts, stored, strict=True):
        back = (await repo.get_attempt(attempt.id)).answer
        assert back == attempt.answer, entry.id  # what the service was told is what is stored
        if "\x00" in text or not entry.utf8_valid:
            assert back == storable_text(text) and REPLACEMENT_CHARACTER in back, entry.id
        else:
            assert back.encode("utf-8") == text.encode("utf-8"), entry.id


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("a\x00b", "a\ufffdb"), ("lone \ud800!", "lone \ufffd!"), ("\udcff\udcfe", "\ufffd\ufffd"), ("ok ✓", "ok ✓")],
    ids=["nul", "lone-high-surrogate", "surrogateescape-bytes", "ordinary"],
)
async def test_unstorable_characters_are_replaced_the_same_way_on_every_engine(engine, raw, stored):
    repo = SqlAttemptRepository(engine)
    attempt = await repo.submit_answer(AnswerSubmission(user_id=7, question_id="q.a", topic="q", answer=raw))
    assert (await repo.get_attempt(attempt.id)).answer == stored
