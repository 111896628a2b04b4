"""`mockinterview run` as a real subprocess against the loopback Discord and the loopback OpenAI server, for the
crash, shutdown and fault suites: start it, drive answers through the fake, kill or signal it, read the database.

Not a test module. The bot's output goes to files (a pipe nobody reads could block it).
"""

# Waiters take a `timeout` on purpose: every wait is bounded and says how long it waited.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.storage.engine import create_engine
from bot.storage.tables import attempts, grading_jobs
from tests.discord_app.conftest import custom_ids, embed_titles
from tests.fakes.discord_server import FakeDiscord, FakeInteraction
from tests.fakes.openai_server import FakeOpenAIServer
from tests.helpers import mockinterview_command

API_KEY = "sk-loopback-run-test"


def run_env(cli_env: dict[str, str], fake: FakeDiscord, llm: FakeOpenAIServer, **extra: str) -> dict[str, str]:
    """The bot on the loopback Discord (commands synced to its guild) grading with the loopback LLM."""
    return {
        **cli_env,
        "DISCORD_TOKEN": fake.token,
        "MOCKINTERVIEW_DISCORD_API_BASE": fake.api_base,
        "MOCKINTERVIEW_DEV_GUILD_ID": str(fake.guild["id"]),
        "MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S": "0.1",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": llm.base_url,
        "MOCKINTERVIEW_GRADER": "llm",
        "MOCKINTERVIEW_LLM_TIMEOUT_S": "120",
        "MOCKINTERVIEW_LLM_MAX_RETRIES": "0",
        "MOCKINTERVIEW_DISCORD_COOLDOWN_RATE": "1000",
        **extra,
    }


class BotProcess:
    """One `mockinterview run` process; `start()` returns once it is logged in and its commands are synced."""

    def __init__(self, env: dict[str, str], tmp: Path, name: str = "bot") -> None:
        self.env = env
        self.stdout_path = tmp / f"{name}.out"
        self.stderr_path = tmp / f"{name}.err"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, fake: FakeDiscord, timeout: float = 60) -> BotProcess:
        identified = fake.identify_count
        synced = fake.find_calls("PUT", r"/guilds/\d+/commands$")
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                *mockinterview_command(), "run", env=self.env, stdout=out, stderr=err
            )
        proc = self.proc
        try:
            await fake.wait_until(
                lambda: fake.identify_count > identified or proc.returncode is not None,
                timeout,
                "the bot to IDENTIFY",
            )
            assert proc.returncode is None, f"the bot exited early:\n{self.stderr[-3000:]}"
            await fake.wait_ready(timeout)
            await fake.wait_until(
                lambda: len(fake.find_calls("PUT", r"/guilds/\d+/commands$")) > len(synced), timeout, "command sync"
            )
        except BaseException:
            await self.kill()
            raise
        return self

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def signal(self, signum: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    async def wait(self, seconds: float) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), seconds)

    async def kill(self) -> None:
        """SIGKILL (kill -9): no handler, no cleanup, no flushing."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await asyncio.wait_for(self.proc.wait(), 10)


async def answer_practice(fake: FakeDiscord, user: dict[str, Any], text: str) -> FakeInteraction:
    """`/practice` in the guild, press Answer, submit `text` in the modal; returns the modal submit once saved."""
    start = await fake.slash("practice", {"topic": "gans"}, user=user, guild=fake.guild)
    assert (await start.wait_callback(timeout=10)).json["type"] == 5
    question = (await start.wait_webhook("POST", timeout=20)).json
    session_id = custom_ids(question)[0].split(":")[2]
    message, answer_id = fake.find_component(f"^iv:answer:{session_id}:")
    press = await fake.click(answer_id, user=user, message=message)
    assert (await press.wait_callback(timeout=10)).json["type"] == 9
    submit = await fake.submit_modal(press, text)
    saved = await submit.wait_webhook("POST", timeout=20)
    assert "Answer saved" in saved.json["content"], saved.json
    return submit


def feedback_followups(submit: FakeInteraction) -> list[dict[str, Any]]:
    """The feedback messages delivered through this submission's followups."""
    return [m for m in submit.followups() if "Feedback" in embed_titles(m)]


def feedback_anywhere_else(fake: FakeDiscord, submits: list[FakeInteraction]) -> list[dict[str, Any]]:
    """Feedback messages that are not a followup of one of `submits` (a duplicate sent by DM or channel)."""
    tokens = {s.token for s in submits}
    return [
        m
        for m in fake.messages.values()
        if m["author"].get("bot")
        and "Feedback" in embed_titles(m)
        and not (m.get("_followup") and m["_token"] in tokens)
    ]


@dataclass(frozen=True)
class AttemptRow:
    id: int
    status: str
    score: float | None
    delivery_status: str
    delivered_at: datetime | None
    job_statuses: tuple[str, ...]
    job_tries: tuple[int, ...]
    lease_owners: tuple[str | None, ...]
    lease_expires: tuple[datetime | None, ...]


async def attempt_rows(database_url: str) -> list[AttemptRow]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(select(attempts).order_by(attempts.c.id))).all()
            jobs = (await connection.execute(select(grading_jobs).order_by(grading_jobs.c.id))).all()
    finally:
        await engine.dispose()
    by_attempt: dict[int, list[Any]] = {}
    for job in jobs:
        by_attempt.setdefault(job.attempt_id, []).append(job)
    return [
        AttemptRow(
            id=row.id,
            status=row.status,
            score=row.score,
            delivery_status=row.delivery_status,
            delivered_at=row.delivered_at,
            job_statuses=tuple(j.status for j in by_attempt.get(row.id, [])),
            job_tries=tuple(j.tries for j in by_attempt.get(row.id, [])),
            lease_owners=tuple(j.lease_owner for j in by_attempt.get(row.id, [])),
            lease_expires=tuple(j.lease_expires_at for j in by_attempt.get(row.id, [])),
        )
        for row in rows
    ]


async def wait_for_rows(database_url: str, probe: Any, timeout: float, what: str) -> list[AttemptRow]:
    """Poll the database until `probe(rows)` is true."""
    rows: list[AttemptRow] = []
    try:
        async with asyncio.timeout(timeout):
            while True:
                rows = await attempt_rows(database_url)
                if probe(rows):
                    return rows
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; rows: {rows}") from None


def leases_expired(rows: list[AttemptRow]) -> bool:
    now = datetime.now(UTC)
    return all(e is None or e < now for row in rows for e in row.lease_expires)


def status_counts(rows: list[AttemptRow]) -> Counter[str]:
    return Counter(row.status for row in rows)
