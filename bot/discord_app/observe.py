"""The bot's metrics at the Discord edge: interactions by kind, and acknowledgement latency.

Acknowledgement latency runs from the interaction's creation (the time in its snowflake id, so it includes the
gateway's delay as the user sees it) to the moment Discord accepted our first response (the `/interactions/{id}/
{token}/callback` request; every other reply is a webhook followup). discord.py sends every first response through
its webhook adapter's `create_interaction_response`; the bot installs a subclass that reports each accepted one
(`AcknowledgementAdapter`), so no handler has to remember to time itself. An aiohttp trace on discord.py's session
(`Client(http_trace=...)`) did this before, but aiohttp then builds and sends all eight trace signals for every REST
request: ~0.05 ms of CPU each, a tenth of what acknowledging costs (benchmarks/README.md).

Labels stay bounded: command names only when the tree knows them, custom-id prefixes only in our own
`prefix:action` shape, never ids or user text.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import weakref
from typing import Any, cast

import discord
from discord import app_commands
from discord.webhook.async_ import AsyncWebhookAdapter, async_context

from bot.ops.metrics import METRICS, Metrics

DISCORD_EPOCH_MS = 1_420_070_400_000
MAX_PENDING = 2_000  # interactions awaiting their first response (older ones are forgotten, not leaked)
ACK_DEADLINE_S = 3.0  # Discord refuses a first response after this; such an interaction no longer waits for one
ACKS_FIRST_LIMIT_S = 1.0  # the longest slower work waits for other interactions' acknowledgements
_CUSTOM_ID_PREFIX = re.compile(r"^([a-z]{1,12}:[a-z][a-z_-]{0,23})(?::|$)")


def snowflake_seconds(snowflake: int) -> float:
    """The Unix time (seconds) encoded in a Discord snowflake."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def _command_name(tree: app_commands.CommandTree[Any] | None, data: dict[str, Any]) -> str:
    name = str(data.get("name", ""))
    command: Any = tree.get_command(name) if tree is not None else None
    if command is None:
        return "unknown"
    parts = [command.name]
    options = data.get("options") or []
    while isinstance(command, app_commands.Group) and options and options[0].get("type") in (1, 2):
        command = command.get_command(str(options[0].get("name", "")))
        if command is None:
            break
        parts.append(command.name)
        options = options[0].get("options") or []
    return " ".join(parts)


def interaction_kind(interaction: discord.Interaction, tree: app_commands.CommandTree[Any] | None = None) -> str:
    """A bounded label for an interaction: `command:practice`, `command:interview start`, `component:iv:answer`,
    `modal:iv:answer-modal`, `autocomplete`, `context_menu`..."""
    data = cast(dict[str, Any], interaction.data or {})
    kind = interaction.type
    if kind == discord.InteractionType.application_command:
        if data.get("type", 1) != 1:
            return "context_menu"
        return f"command:{_command_name(tree, data)}"
    if kind == discord.InteractionType.autocomplete:
        return "autocomplete"
    if kind in (discord.InteractionType.component, discord.InteractionType.modal_submit):
        base = "component" if kind == discord.InteractionType.component else "modal"
        match = _CUSTOM_ID_PREFIX.match(str(data.get("custom_id", "")))
        return f"{base}:{match[1]}" if match else base
    return kind.name


def error_site(interaction: discord.Interaction) -> str:
    """Where an interaction's error happened, for `mockinterview_errors_total{where=...}`."""
    kind = interaction.type
    if kind == discord.InteractionType.application_command:
        return "command"
    if kind == discord.InteractionType.component:
        return "component"
    if kind == discord.InteractionType.modal_submit:
        return "modal"
    return "interaction"


class InteractionMeter:
    """Counts interactions as they arrive (`received`), times their acknowledgement (`watch_acknowledgements`), and lets
    slower work wait while acknowledgements are outstanding (`acknowledgements_first`)."""

    def __init__(self, metrics: Metrics = METRICS, wall_clock: Any = time.time) -> None:  # noqa: ANN401
        self.metrics = metrics
        self.wall_clock = wall_clock
        self._pending: dict[int, str] = {}  # interaction id -> kind, until its callback succeeds
        self._settled = asyncio.Event()  # set while no interaction awaits its first response
        self._settled.set()

    def received(self, interaction: discord.Interaction, tree: app_commands.CommandTree[Any] | None) -> None:
        kind = interaction_kind(interaction, tree)
        self.metrics.count_interaction(kind)
        if interaction.type == discord.InteractionType.ping:
            return
        if len(self._pending) >= MAX_PENDING:  # never acknowledged (an error before any reply): forget the oldest
            del self._pending[next(iter(self._pending))]
        self._pending[interaction.id] = kind
        self._settled.clear()

    def acknowledged(self, interaction_id: int) -> None:
        kind = self._pending.pop(interaction_id, None)
        if kind is not None:
            self.metrics.observe_ack(self.wall_clock() - snowflake_seconds(interaction_id), kind.split(":", 1)[0])
        if not self._pending:
            self._settled.set()

    @property
    def outstanding(self) -> int:
        """Interactions received within Discord's deadline that are still waiting for their first response."""
        self._forget_expired()
        return len(self._pending)

    async def acknowledgements_first(self, limit: float = ACKS_FIRST_LIMIT_S) -> None:
        """Wait (at most `limit` seconds) while received interactions still await their first response.

        Handlers call this after acknowledging their own interaction and before their slower work (database reads
        and writes, followups). In a burst of interactions that work would otherwise run between acknowledgements
        and push the later ones towards Discord's 3-second deadline; now every acknowledgement goes out first.
        """
        if not self.outstanding:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), limit)

    def _forget_expired(self) -> None:
        # Interactions arrive (and so sit in the dict) in about snowflake order: the oldest are at the front.
        expired_before = self.wall_clock() - ACK_DEADLINE_S
        while self._pending:
            oldest = next(iter(self._pending))
            if snowflake_seconds(oldest) >= expired_before:
                break
            del self._pending[oldest]
        if not self._pending:
            self._settled.set()

    def watch_acknowledgements(self) -> None:
        """Be told of every first response Discord accepts from tasks started after this call, in this context
        (the bot calls it when it logs in, before its gateway connection spawns any handler)."""
        ACKNOWLEDGEMENTS.meters.add(self)
        async_context.set(ACKNOWLEDGEMENTS)


class AcknowledgementAdapter(AsyncWebhookAdapter):
    """discord.py's webhook adapter, telling the meters when Discord accepted an interaction's first response.

    One per process: interaction ids are unique, so each meter (one per bot) only counts the ones it received."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # discord.py leaves it unannotated
        self.meters: weakref.WeakSet[InteractionMeter] = weakref.WeakSet()

    async def create_interaction_response(  # async: the same awaitable its callers await
        self,
        interaction_id: int,
        token: str,
        **kwargs: Any,  # noqa: ANN401 - passed through to discord.py
    ) -> Any:  # noqa: ANN401 - discord.py's callback response payload
        response = await super().create_interaction_response(interaction_id, token, **kwargs)
        for meter in self.meters:  # raised on an HTTP error, so only accepted responses get here
            meter.acknowledged(interaction_id)
        return response


ACKNOWLEDGEMENTS = AcknowledgementAdapter()
