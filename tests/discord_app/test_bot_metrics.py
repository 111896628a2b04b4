"""The bot's metrics in process (the default registry `/metrics` exposes): unexpected errors are counted where
they happened, user errors are not, and labels stay bounded whatever the payload says."""

from __future__ import annotations

import pytest

from bot.ops.metrics import METRICS
from tests.fakes.discord_server import FakeDiscord


def sample(name: str, **labels: str) -> float:
    return METRICS.registry.get_sample_value(name, labels) or 0.0


async def test_an_unexpected_command_error_counts_once_under_command(
    fake: FakeDiscord, launch, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with launch() as bot:

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        monkeypatch.setattr(bot.runtime.attempts, "history", broken)
        errors = sample("mockinterview_errors_total", where="command")
        failing = await fake.slash("history", user=fake.make_user("unlucky"), guild=fake.guild)
        await failing.wait_callback()
        assert "went wrong" in (await failing.wait_webhook("POST")).json["content"]
        assert sample("mockinterview_errors_total", where="command") == errors + 1


async def test_a_user_facing_error_is_not_counted_as_an_error(fake: FakeDiscord, launch) -> None:
    async with launch():
        before = sum(sample("mockinterview_errors_total", where=w) for w in ("command", "component", "modal"))
        end = await fake.slash("interview end", user=fake.make_user("idle"), guild=fake.guild)
        await end.wait_callback()
        assert "no interview running" in (await end.wait_webhook("POST")).json["content"]
        after = sum(sample("mockinterview_errors_total", where=w) for w in ("command", "component", "modal"))
        assert after == before


async def test_subcommands_are_labelled_by_their_full_name_and_acknowledged(fake: FakeDiscord, launch) -> None:
    async with launch():
        seen = sample("mockinterview_interactions_total", kind="command:interview end")
        acked = sample("mockinterview_ack_latency_seconds_count", kind="command")
        end = await fake.slash("interview end", user=fake.make_user("labelled"), guild=fake.guild)
        await end.wait_callback()
        await end.wait_webhook("POST")
        assert sample("mockinterview_interactions_total", kind="command:interview end") == seen + 1
        assert sample("mockinterview_ack_latency_seconds_count", kind="command") == acked + 1


async def test_an_answer_typed_in_a_dm_is_graded_under_its_grader_name(fake: FakeDiscord, launch) -> None:
    user = fake.make_user("typist")
    async with launch():
        graded = sample("mockinterview_grades_total", grader="scripted")
        start = await fake.slash("practice", {"topic": "gans"}, user=user)
        await start.wait_webhook("POST")
        await fake.dm_message(user, "Mode collapse: the generator covers few modes.")
        await fake.wait_until(
            lambda: sample("mockinterview_grades_total", grader="scripted") == graded + 1, 10, "the grade metric"
        )
        assert sample("mockinterview_grading_latency_seconds_count", grader="scripted") >= 1
