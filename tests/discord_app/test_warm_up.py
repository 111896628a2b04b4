"""The offline grader's model is loaded in a background thread once the bot is ready: the event loop keeps serving
while it loads, only the model is warmed (not the whole bank), and the first grade reuses it."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from bot.grading.embeddings import Vectors
from bot.grading.offline import OfflineGrader
from bot.grading.warmup import offline_grader_of
from bot.ops.metrics import METRICS, MeteredGrader
from bot.settings import Settings
from bot.wiring import build_grader
from tests.discord_app.conftest import bot_messages, embed_titles
from tests.fakes.discord_server import FakeDiscord


class GatedEncoderFactory:
    """Builds a tiny deterministic encoder; building it blocks until `release()` (a slow model load)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.built_in: list[str] = []
        self.encoded: list[list[str]] = []

    def release(self) -> None:
        self.gate.set()

    def __call__(self) -> GatedEncoderFactory:
        self.built_in.append(threading.current_thread().name)
        assert self.gate.wait(10), "the test never released the model load"
        return self

    model_id = "fake-encoder"

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded.append(list(texts))
        rows = [np.random.default_rng(abs(hash(t)) % 2**32).standard_normal(384) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), 384)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def test_the_offline_grader_is_found_inside_the_llm_grader_and_the_metering_wrapper() -> None:
    settings = Settings(grader="llm", openai_api_key="sk-test", openai_base_url="http://127.0.0.1:9/v1")
    llm = build_grader(settings)
    assert isinstance(offline_grader_of(MeteredGrader(llm, METRICS)), OfflineGrader)
    offline = OfflineGrader()
    assert offline_grader_of(MeteredGrader(offline, METRICS)) is offline
    assert offline_grader_of(object()) is None


async def test_the_model_loads_in_the_background_after_ready_and_the_first_grade_reuses_it(
    fake: FakeDiscord, launch
) -> None:
    factory = GatedEncoderFactory()
    grader = OfflineGrader(encoder_factory=factory)
    try:
        async with launch(grader_override=grader) as bot:
            await fake.wait_until(lambda: factory.built_in, 10, "the warm-up to start loading the model")
            assert factory.built_in == ["offline-grader-warm-up"]
            # While the model is still loading, the bot answers commands: the event loop is not blocked.
            reply = await fake.slash("topics", user=fake.make_user("early"), guild=fake.guild)
            assert (await reply.wait_callback(timeout=3)).json["type"] in (4, 5)

            factory.release()
            await fake.wait_until(lambda: factory.encoded, 10, "the warm-up encode")
            assert factory.encoded == [["warm up"]]  # the model only: rubrics stay lazy

            user = fake.make_user("first")
            start = await fake.slash("practice", {"topic": "gans"}, user=user)
            await start.wait_webhook("POST")
            await fake.dm_message(user, "Mode collapse: the generator produces only a few kinds of samples.")
            dm = fake.dm_channel_for(user)["id"]
            await fake.wait_until(
                lambda: any("Feedback" in embed_titles(m) for m in bot_messages(fake, dm)), 10, "the feedback"
            )
            graded = await bot.runtime.attempts.history(int(user["id"]))
            assert graded[0].grade is not None and graded[0].grade.grader == "offline"
            assert factory.built_in == ["offline-grader-warm-up"]  # the first grade reused the loaded model
            assert bot.runtime.grader is grader
    finally:
        factory.release()
