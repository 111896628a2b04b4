"""The end-to-end harness: the loopback Discord, a controllable clock, a deterministic grader, and `launch()` that
starts a real `InterviewBot` (real discord.py, real SQLite, real queue) against them. A bot can be launched twice
on the same database to test restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.models import GradeResult, KeyPointResult, Rubric, Verdict
from bot.core.question_bank import QuestionBank
from bot.discord_app.client import InterviewBot
from bot.discord_app.runtime import open_runtime
from bot.settings import Settings
from bot.wiring import build_bank
from tests.fakes.discord_server import Call, FakeDiscord


class ManualClock:
    """Starts at the real time (so Discord snowflake times agree) and moves only when told."""

    def __init__(self) -> None:
        self.current = datetime.now(UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class GatedGrader:
    """A deterministic grader: covers the first half of the key points and scores 7. `hold()` makes it wait until
    `release()`, to control when feedback is ready; `extra` pads the feedback (for embed-limit tests)."""

    name = "scripted"

    def __init__(self) -> None:
        self.calls: list[tuple[Rubric, str]] = []
        self._open = asyncio.Event()
        self._open.set()
        self.extra_items = 0

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def grade(self, rubric: Rubric, answer: str) -> GradeResult:
        self.calls.append((rubric, answer))
        await self._open.wait()
        half = max(1, len(rubric.key_points) // 2)
        long = " ".join(["detail"] * 60)
        return GradeResult(
            score=7.0,
            key_points=[
                KeyPointResult(key_point=kp, verdict=Verdict.COVERED if i < half else Verdict.MISSING)
                for i, kp in enumerate(rubric.key_points)
            ],
            strengths=["Clear structure"] + [f"Strength {i}: {long}" for i in range(self.extra_items)],
            improvements=["Mention the trade-offs"] + [f"Improvement {i}: {long}" for i in range(self.extra_items)],
            follow_up="How would you measure it?",
            grader="scripted",
            model="scripted-1",
        )


@pytest.fixture(scope="session")
def bank() -> QuestionBank:
    return build_bank(Settings())


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.patch_discord()  # saves discord.py's URLs; `stop()` restores them
        yield server
        # Nothing the bot sent may ping anyone, whatever text it echoes.
        for call in server.calls:
            body = call.body if isinstance(call.body, dict) else None
            message = (body.get("data") if body and "data" in body and "type" in body else body) or {}
            if isinstance(message, dict) and (message.get("content") or message.get("embeds")):
                assert message.get("allowed_mentions") == {"parse": []}, f"{call.method} {call.path} may ping"
        assert not server.unhandled, [f"{c.method} {c.path}" for c in server.unhandled]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def grader() -> GatedGrader:
    return GatedGrader()


@pytest.fixture
def make_settings(tmp_path: Path, fake: FakeDiscord) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            "grader": "offline",
            "discord_api_base": fake.api_base,
            "queue_poll_interval_s": 0.05,
            "discord_cooldown_rate": 1000,
        }
        values.update(overrides)
        return Settings(**values)

    return make


Launch = Callable[..., contextlib.AbstractAsyncContextManager[InterviewBot]]


@pytest.fixture
def launch(
    fake: FakeDiscord,
    clock: ManualClock,
    grader: GatedGrader,
    bank: QuestionBank,
    make_settings: Callable[..., Settings],
) -> Launch:
    """`async with launch(**settings) as bot:` a logged-in, ready bot with its commands synced globally."""

    @contextlib.asynccontextmanager
    async def start(
        *, grader_override: Any = None, background: bool = True, **overrides: Any
    ) -> AsyncIterator[InterviewBot]:
        settings = make_settings(**overrides)
        async with open_runtime(settings, grader=grader_override or grader, clock=clock, bank=bank) as runtime:
            bot = InterviewBot(runtime, background=background, guild_ready_timeout=0)
            identified = fake.identify_count + fake.resume_count
            task = asyncio.create_task(bot.start(fake.token))
            try:
                await fake.wait_until(lambda: fake.identify_count + fake.resume_count > identified, 15, "IDENTIFY")
                await fake.wait_ready()
                await asyncio.wait_for(bot.wait_until_ready(), 15)
                await bot.tree.sync()  # what `mockinterview sync` does
                yield bot
            finally:
                grader.release()
                await bot.close()
                await asyncio.wait_for(task, 15)

    return start


def bot_messages(fake: FakeDiscord, channel_id: int | str) -> list[dict[str, Any]]:
    return [m for m in fake.messages_in(channel_id) if m["author"].get("bot")]


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in message.get("components", []) for c in row["components"] if "custom_id" in c]


def button(message: dict[str, Any], action: str) -> str:
    """The custom id of the interview's `action` button on `message` (`iv:<action>:<session_id>[:<item>]`)."""
    return next(c for c in custom_ids(message) if c.split(":")[:2] == ["iv", action])


def embed_titles(message: dict[str, Any]) -> list[str]:
    return [e.get("title", "") for e in message.get("embeds", [])]


def webhook_posts(fake: FakeDiscord, token: str, since: int = 0) -> list[Call]:
    return [
        c for c in fake.calls[since:] if c.method == "POST" and c.path == f"/webhooks/{fake.application_id}/{token}"
    ]
