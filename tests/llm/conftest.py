"""Fixtures for the LLM grader: the loopback OpenAI-compatible server and graders wired to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.core.models import Rubric
from bot.llm.factory import build_client
from bot.llm.grader import OpenAIGrader
from bot.settings import Settings
from tests.fakes.openai_server import FakeOpenAIServer

RECORDED_BODY = Path(__file__).parent / "data" / "grade_request_body.json"

# A hand-written rubric so these tests don't depend on the bank's wording.
MODE_COLLAPSE = Rubric(
    question="What is mode collapse in a GAN, and how would you mitigate it?",
    reference_answer=(
        "Mode collapse happens when the generator of a generative adversarial network produces only a few kinds "
        "of samples, because fooling the discriminator with those outputs is enough; the diversity of the real "
        "data is lost. Remedies change the training signal: minibatch discrimination lets the discriminator see "
        "sample diversity, Wasserstein loss with gradient penalty gives smoother gradients, and unrolled or "
        "spectrally normalised discriminators make training more stable."
    ),
    key_points=(
        "The generator produces a narrow set of outputs instead of covering the data distribution.",
        "It happens because a few outputs already fool the discriminator.",
        "Minibatch discrimination exposes a lack of sample diversity to the discriminator.",
        "Wasserstein loss with gradient penalty stabilises training and reduces collapse.",
    ),
    misconceptions=("Mode collapse means the discriminator stops learning entirely.",),
    question_id="gans.mode-collapse",
)

GOOD_ANSWER = (
    "Mode collapse is when the generator produces a narrow set of outputs instead of covering the whole data "
    "distribution. It happens because a few outputs already fool the discriminator, so the generator has no "
    "reason to diversify. Minibatch discrimination exposes the lack of sample diversity to the discriminator, "
    "and a Wasserstein loss with gradient penalty stabilises training and reduces collapse."
)


@pytest.fixture
def rubric() -> Rubric:
    return MODE_COLLAPSE


@pytest.fixture
async def fake_openai():
    async with FakeOpenAIServer() as server:
        yield server


def llm_settings(server: FakeOpenAIServer, **overrides: object) -> Settings:
    """Settings pointing at the loopback server, with short timeouts so fault tests stay fast."""
    values: dict[str, object] = {
        "openai_api_key": "test",
        "openai_base_url": server.base_url,
        "llm_timeout_s": 5.0,
        "llm_max_retries": 2,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture
async def make_grader():
    """Builds `OpenAIGrader`s over the real AsyncOpenAI client; closes their clients afterwards."""
    clients = []

    def make(server: FakeOpenAIServer, **overrides: object) -> OpenAIGrader:
        settings = llm_settings(server, **overrides)
        client = build_client(settings)
        clients.append(client)
        return OpenAIGrader(client, settings)

    yield make
    for client in clients:
        await client.close()


@dataclass(frozen=True)
class RawRequest:
    body: bytes
    headers: dict[str, str]
    peer: object  # the client's (host, port): one per connection it opened


@dataclass
class RawRecordingServer(FakeOpenAIServer):
    """The loopback server, also keeping each request's body as sent (bytes), its headers and its connection."""

    raw: list[RawRequest] = field(default_factory=list)

    async def _chat_completions(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.raw.append(RawRequest(await request.read(), dict(request.headers), peer))
        return await super()._chat_completions(request)


@pytest.fixture
async def raw_openai():
    async with RawRecordingServer() as server:
        yield server
