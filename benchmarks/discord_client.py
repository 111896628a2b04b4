"""discord.py's own CPU per interaction: a plain `discord.Client`, none of the bot's code, against the loopback Discord.

    python -m benchmarks.discord_client [--json] [--quick] [--interactions N] [--rounds N]

The floor under the `ack` target (500 modal submits at once, p99 <= 100 ms): whatever the bot does, discord.py and
aiohttp parse every INTERACTION_CREATE and send every acknowledgement on the one event loop. The client is set up as
the bot's is (default intents, its REST base and gateway overrides, `HTTP_CONNECTIONS` connections and uvloop,
imported from the bot so they can't drift apart; startup objects frozen once READY), and its `on_interaction` does
only what each phase says. The loopback Discord (`BenchDiscord` of `benchmarks/_bot.py`) runs in a child process
(`--serve`, driven by line commands on its standard input), so this process's CPU time (`time.process_time()`) is
the client's own.

Candidates are prepared untimed, as in `ack`: a question message (embed and five buttons, like the bot's) in each
candidate's DM, a press of its Answer button, and the answer modal opened on it. A burst is every candidate
submitting that modal (the fake's `submit_modal`: type 5, in the DM, carrying the question message, fresh id and
token), built and encoded first and then written back to back. Each round runs one burst per phase, after a
warm-up round; figures are medians over the rounds, per interaction:

* `cpu_ms_per_event`: the client's CPU to read, parse and dispatch the events, `on_interaction` doing nothing.
* `cpu_ms_per_ack`: with `await interaction.response.defer(thinking=True)` as well; `cpu_ms_per_callback` is that
  minus `cpu_ms_per_event`. `ack_floor_ms_for_500`: 500 x `cpu_ms_per_ack`, the CPU one event loop needs to
  acknowledge 500 interactions: the p99 of 500 at once can't be lower, whatever the bot does.
* `cpu_ms_per_followup`: deferring, then `await interaction.followup.send("saved")`, minus `cpu_ms_per_ack`.
* `wall_ms_per_burst_ack`: from the fake writing the burst to it receiving the last callback (acknowledging phase).
* `fake_cpu_ms_per_ack`: the fake's (child's) CPU per interaction over the same burst (encoding and writing the
  events, answering the callbacks), as `fake_window_cpu_ms_per_ack` of `ack` measures it.
* `failed_calls`: callbacks or followups the fake refused in the timed bursts (0 unless the 3 s deadline passed).

Defaults: 500 interactions per burst, 5 rounds. `--quick`: 20 interactions, 2 rounds (seconds, for CI).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from benchmarks._bot import BenchDiscord, answer_text
from bot.cli._loop import run_event_loop
from bot.core.question_bank import load_bank
from bot.discord_app.client import HTTP_CONNECTIONS, use_api_base
from bot.resources import builtin_bank_dir
from tests.fakes.discord_server import FakeInteraction

PHASES = ("event", "callback", "followup")
# Calls the client makes per interaction in each phase: the fake answers a burst once it has received them all.
CALLS_PER_INTERACTION = {"event": 0, "callback": 1, "followup": 2}
BURST_TIMEOUT_S = 60.0

# -- the child process: the loopback Discord ---------------------------------------------------------------------


async def serve() -> None:
    """The loopback Discord, answering line commands on standard input until it closes (the child's half):
    `prepare N` opens N candidates' answer modals; `burst N PHASE` sends N of their submits at once."""
    fake = BenchDiscord()  # (its `__aenter__` is typed as returning a plain FakeDiscord)
    async with fake, aiohttp.ClientSession() as rest:
        reply({"api_base": fake.api_base, "gateway_url": fake.gateway_url, "token": fake.token})
        forms: list[FakeInteraction] = []
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command, count, *phase = line.split()
            if command == "prepare":
                forms = await open_answer_forms(fake, rest, int(count))
                reply({"prepared": len(forms)})
            else:
                reply(await burst(fake, forms[: int(count)], phase[0]))


def reply(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


async def open_answer_forms(fake: BenchDiscord, rest: aiohttp.ClientSession, count: int) -> list[FakeInteraction]:
    """`count` candidates, each with a question in their DM and its answer modal open: the bot's side (the message,
    the modal) goes through the fake's REST API, as the bot's would; the press is the fake's own `click`."""
    await fake.wait_ready()
    questions = [question.question for question in load_bank(builtin_bank_dir(), []).questions.values()]
    bot_auth = {"Authorization": f"Bot {fake.token}"}
    forms = []
    for number in range(count):
        user = fake.make_user(f"candidate{number}")
        question = questions[number % len(questions)]
        channel_id = fake.dm_channel_for(user)["id"]
        body = question_message(number, question)
        async with rest.post(f"{fake.api_base}/channels/{channel_id}/messages", json=body, headers=bot_auth) as sent:
            sent.raise_for_status()
            message_id = int((await sent.json())["id"])
        press = await fake.click(f"iv:answer:{number}:0", user=user, message=fake.messages[message_id])
        modal = {"type": 9, "data": answer_modal(number, question).to_dict()}
        async with rest.post(f"{fake.api_base}/interactions/{press.id}/{press.token}/callback", json=modal) as opened:
            opened.raise_for_status()
        forms.append(press)
    return forms


def question_message(number: int, question: str) -> dict[str, Any]:
    """A message shaped like the bot's question (`question_message` in the interview extension)."""
    embed = discord.Embed(
        title="Question 1 of 5",
        description=f"{question}\n\nPress **Answer** to write your answer.",
        colour=discord.Colour.blurple(),
    )
    embed.add_field(name="Topic", value="Generative models").add_field(name="Difficulty", value="Medium")
    embed.set_footer(text=f"question-{number} · hints left: 2")
    view = discord.ui.View(timeout=None)
    for action, label, emoji, style in (
        ("answer", "Answer", "✍️", discord.ButtonStyle.primary),
        ("hint", "Hint (2 left)", "💡", discord.ButtonStyle.secondary),
        ("skip", "Skip", "⏭️", discord.ButtonStyle.secondary),
        ("reveal", "Reveal answer", "📖", discord.ButtonStyle.secondary),
        ("end", "End", "🛑", discord.ButtonStyle.danger),
    ):
        view.add_item(discord.ui.Button(label=label, emoji=emoji, style=style, custom_id=f"iv:{action}:{number}:0"))
    return {"embeds": [embed.to_dict()], "components": view.to_components()}


def answer_modal(number: int, question: str) -> discord.ui.Modal:
    """A modal shaped like the bot's `AnswerModal`: one paragraph input."""
    modal = discord.ui.Modal(title="Your answer", custom_id=f"iv:answer-modal:{number}:0", timeout=None)
    modal.add_item(
        discord.ui.TextInput(
            label="Answer",
            custom_id="answer",
            style=discord.TextStyle.paragraph,
            placeholder=question[:100],
            min_length=1,
            max_length=4000,
        )
    )
    return modal


async def burst(fake: BenchDiscord, forms: list[FakeInteraction], phase: str) -> dict[str, Any]:
    """Every form submitted at once (built and encoded first, then written back to back); returns once the fake
    has received every call the phase makes (at once for `event`), with its own CPU time over the burst."""
    fake.holding = True
    submits = [await fake.submit_modal(form, answer_text(number)) for number, form in enumerate(forms)]
    first = fake.mark()
    expected = first + CALLS_PER_INTERACTION[phase] * len(submits)
    cpu = time.process_time()
    await fake.release()
    await fake.wait_until(lambda: len(fake.calls) >= expected, BURST_TIMEOUT_S, f"every {phase} call")
    cpu = time.process_time() - cpu
    written = fake.sent_at[submits[0].id]
    calls = fake.calls[first:]
    return {
        "fake_cpu_s": cpu,
        "wall_s": max((call.at for call in calls), default=written) - written,
        "failed_calls": sum(1 for call in calls if call.status >= 400),
    }


# -- this process: the client ------------------------------------------------------------------------------------


class Interactions:
    """What `on_interaction` does in the current phase, and when the burst's interactions are all handled."""

    def __init__(self) -> None:
        self.phase = "event"
        self.expected = 0
        self.handled = 0
        self.all_handled = asyncio.Event()

    def expect(self, count: int, phase: str) -> None:
        self.phase, self.expected, self.handled = phase, count, 0
        self.all_handled.clear()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is not discord.InteractionType.modal_submit:
            return  # the Answer presses while candidates are prepared
        try:
            if self.phase != "event":
                await interaction.response.defer(thinking=True)
            if self.phase == "followup":
                await interaction.followup.send("saved")
        except discord.HTTPException:
            pass  # the fake counts the calls it refused (`failed_calls`)
        finally:
            self.handled += 1
            if self.handled >= self.expected:
                self.all_handled.set()


class LoopbackDiscord:
    """The child process running the loopback Discord, and its line protocol."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process, self.stdin, self.stdout = process, process.stdin, process.stdout

    async def ask(self, command: str) -> dict[str, Any]:
        self.stdin.write(f"{command}\n".encode())
        await self.stdin.drain()
        return await self.answer()

    async def answer(self) -> dict[str, Any]:
        line = await asyncio.wait_for(self.stdout.readline(), BURST_TIMEOUT_S)
        if not line:
            raise RuntimeError(f"the loopback Discord exited with {await self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer


@contextlib.asynccontextmanager
async def loopback_discord() -> AsyncIterator[LoopbackDiscord]:
    """The loopback Discord in a child process, so its CPU time is not counted here."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.discord_client", "--serve", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield LoopbackDiscord(process)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


@contextlib.asynccontextmanager
async def connected_client(fake: LoopbackDiscord, interactions: Interactions) -> AsyncIterator[discord.Client]:
    """A plain `discord.Client` logged in to the loopback Discord the way the bot is (`InterviewBot.login`)."""
    endpoints = await fake.answer()
    use_api_base(endpoints["api_base"])
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(endpoints["gateway_url"])
    client = discord.Client(
        intents=discord.Intents.default(),  # the bot's, message content off (its default)
        connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS),
        guild_ready_timeout=0.5,  # one guild, sent at once: don't wait discord.py's default 2 s for more
    )
    client.event(interactions.on_interaction)
    await client.login(endpoints["token"])
    connection = asyncio.create_task(client.connect(reconnect=False))
    try:
        await asyncio.wait_for(client.wait_until_ready(), BURST_TIMEOUT_S)
        gc.collect()  # as the bot does once READY (`_freeze_startup_objects`)
        gc.freeze()
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await connection


async def timed_burst(fake: LoopbackDiscord, interactions: Interactions, count: int, phase: str) -> dict[str, float]:
    interactions.expect(count, phase)
    cpu = time.process_time()
    sent = await fake.ask(f"burst {count} {phase}")
    await asyncio.wait_for(interactions.all_handled.wait(), BURST_TIMEOUT_S)
    cpu = time.process_time() - cpu
    return {"cpu_ms": 1000 * cpu / count, **sent}


async def measure(count: int, rounds: int) -> dict[str, object]:
    interactions = Interactions()
    async with loopback_discord() as fake, connected_client(fake, interactions):
        await fake.ask(f"prepare {count}")
        for phase in PHASES:  # warm-up: connections, caches, first-use code paths
            await timed_burst(fake, interactions, count, phase)
        bursts: dict[str, list[dict[str, float]]] = {phase: [] for phase in PHASES}
        for _ in range(rounds):  # the phases interleaved, so a noisy spell on the machine hits them alike
            for phase in PHASES:
                bursts[phase].append(await timed_burst(fake, interactions, count, phase))

    def median(phase: str, key: str) -> float:
        return statistics.median(burst[key] for burst in bursts[phase])

    event, ack, followup = (median(phase, "cpu_ms") for phase in PHASES)
    return {
        "interactions": count,
        "rounds": rounds,
        "cpu_ms_per_event": round(event, 3),
        "cpu_ms_per_callback": round(ack - event, 3),
        "cpu_ms_per_ack": round(ack, 3),
        "cpu_ms_per_followup": round(followup - ack, 3),
        "ack_floor_ms_for_500": round(500 * ack, 1),
        "wall_ms_per_burst_ack": round(1000 * median("callback", "wall_s"), 1),
        "fake_cpu_ms_per_ack": round(1000 * median("callback", "fake_cpu_s") / count, 3),
        "failed_calls": sum(int(burst["failed_calls"]) for runs in bursts.values() for burst in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="20 interactions, 2 rounds; finishes in seconds")
    parser.add_argument("--interactions", type=int, default=None, help="interactions per burst (default 500)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds of one burst per phase (default 5)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve())  # the loop `benchmarks.ack` runs the fake on
        return
    count = args.interactions or (20 if args.quick else 500)
    figures = run_event_loop(measure(count, args.rounds or (2 if args.quick else 5)))
    figures["quick"] = args.quick
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>22}  {value}")


if __name__ == "__main__":
    main()
