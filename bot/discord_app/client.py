"""`InterviewBot`: loads the extensions, registers the persistent buttons, runs feedback delivery (and, unless
`MOCKINTERVIEW_BOT_GRADING` is false, grading) in the background, and syncs commands to the dev guild (global sync
is `mockinterview sync`, never automatic). On PostgreSQL those loops are also woken by other processes' NOTIFYs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import aiohttp
import discord
import discord.http
import yarl
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from bot.core.models import Attempt, ClaimedJob, GradeResult, PendingDelivery
from bot.core.ports import Clock, GradingQueue
from bot.discord_app.delivery import FeedbackDeliverer
from bot.discord_app.exts.interview._flow import InterviewFlow
from bot.discord_app.exts.interview._views import SessionButton, ShareButton
from bot.discord_app.limits import LlmQuota, UserRateLimiter
from bot.discord_app.observe import InteractionMeter
from bot.discord_app.runtime import Runtime
from bot.discord_app.tasks import spawn
from bot.discord_app.tree import InterviewTree
from bot.discord_app.ui import note_modal_claim
from bot.grading.warmup import finish_warm_up, start_warm_up
from bot.ops.metrics import METRICS, MeteredGrader
from bot.pipeline import GradingWorker, Notifier, default_worker_id
from bot.storage.engine import not_a_database_outage
from bot.storage.wakeups import wake_ups_for

log = logging.getLogger(__name__)

EXTENSIONS = ("bot.discord_app.exts.interview", "bot.discord_app.exts.account", "bot.discord_app.exts.study")
EXPIRY_INTERVAL_S = 60.0
CLOSE_GRACE_S = 5.0
# Connections to Discord's REST API. discord.py's default pool is unbounded: a burst of interactions opened one new
# connection (TCP + TLS) per callback instead of reusing kept-alive ones; bounded, they queue briefly for a free
# connection, which is far cheaper (benchmarks/README.md: ack p99 574 -> ~350 ms for 500 at once). aiohttp's own
# default is 100 too.
HTTP_CONNECTIONS = 100
# What the bot needs in a server: post, embed, upload charts, and run interviews in private threads.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_private_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


_frozen = False


def _freeze_startup_objects() -> None:
    """Move what startup built (modules, the question bank, caches) out of the collector's way, once per process:
    a full collection walked all of it and took ~130 ms of one burst of 500 interactions (benchmarks/README.md)."""
    global _frozen  # once per process, whichever bot gets READY first
    if not _frozen:
        _frozen = True
        gc.collect()  # garbage frozen would never be freed
        gc.freeze()


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=("bot", "applications.commands"))


def use_api_base(api_base: str | None) -> None:
    """Send REST calls to `api_base` instead of discord.com (loopback tests, self-hosted gateways)."""
    if api_base:
        discord.http.Route.BASE = api_base.rstrip("/")


class _WakingQueue:
    """The grading queue, waking the notifier as soon as a job finishes so feedback doesn't wait for a poll."""

    def __init__(self, queue: GradingQueue) -> None:
        self.queue = queue
        self.on_done: list[Any] = []

    def _wake(self) -> None:
        for wake in self.on_done:
            wake()

    async def claim_jobs(self, worker_id: str, limit: int, lease_seconds: float) -> list[ClaimedJob]:
        return await self.queue.claim_jobs(worker_id, limit, lease_seconds)

    async def complete(self, job: ClaimedJob, grade: GradeResult) -> Attempt | None:
        result = await self.queue.complete(job, grade)
        self._wake()
        return result

    async def complete_many(self, results: Sequence[tuple[ClaimedJob, GradeResult]]) -> list[Attempt | None]:
        graded = await self.queue.complete_many(results)
        self._wake()
        return graded

    async def fail(self, job: ClaimedJob, error: str, *, retryable: bool = True) -> str:
        outcome = await self.queue.fail(job, error, retryable=retryable)
        self._wake()
        return outcome

    async def reclaim_expired(self, now: datetime | None = None) -> int:
        return await self.queue.reclaim_expired(now)

    async def claim_deliveries(self, worker_id: str, limit: int, lease_seconds: float = 60.0) -> list[PendingDelivery]:
        return await self.queue.claim_deliveries(worker_id, limit, lease_seconds)

    async def mark_delivered(self, item: PendingDelivery) -> bool:
        return await self.queue.mark_delivered(item)

    async def mark_delivered_many(self, items: Sequence[PendingDelivery]) -> list[bool]:
        return await self.queue.mark_delivered_many(items)

    async def release_delivery(self, item: PendingDelivery, error: str) -> str:
        return await self.queue.release_delivery(item, error)


class InterviewBot(commands.Bot):
    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Clock | None = None,
        background: bool = True,
        **options: Any,  # noqa: ANN401 - passed to discord.py (e.g. guild_ready_timeout in tests)
    ) -> None:
        settings = runtime.settings
        intents = discord.Intents.default()
        intents.message_content = settings.discord_message_content
        self.meter = InteractionMeter(METRICS)
        if settings.shard_id is not None:
            # This process runs one shard of `shard_count` (MOCKINTERVIEW_SHARD_ID/COUNT); unset: discord.py's single
            # connection. Several processes share the database, the grading queue and the delivery outbox.
            options.setdefault("shard_id", settings.shard_id)
            options.setdefault("shard_count", settings.shard_count)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=InterviewTree,
            allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True, private_channel=True),
            allowed_installs=app_commands.AppInstallationType(guild=True, user=True),
            allowed_mentions=discord.AllowedMentions.none(),
            **options,
        )
        self.runtime = runtime
        self.clock = clock or runtime.clock
        self.background = background
        self.rate_limiter = UserRateLimiter(settings.discord_cooldown_rate, settings.discord_cooldown_per_s)
        self.quota = LlmQuota(runtime)
        self.flow = InterviewFlow(self)
        queue = _WakingQueue(runtime.queue)
        self.worker = GradingWorker(
            queue,
            MeteredGrader(runtime.grader, METRICS),  # grades, latency, tokens and cost by grader
            runtime.service.rubric_for,
            worker_id=default_worker_id("bot"),
            concurrency=settings.grading_concurrency,
            # The configured lease: a job held by a process that died is graded again once it runs out.
            lease_seconds=settings.grading_lease_s,
            reclaim_interval=min(30.0, settings.grading_lease_s),
            poll_interval=settings.queue_poll_interval_s,
            item_specific=not_a_database_outage,
        )
        self.notifier = Notifier(
            queue,
            FeedbackDeliverer(self),
            poll_interval=settings.queue_poll_interval_s,
            item_specific=not_a_database_outage,
        )
        queue.on_done.append(self.notifier.wake)
        # Grades stored by workers in other processes (and answers stored by other shards) wake these loops.
        self.wake_ups = wake_ups_for(runtime.queue.engine)
        self.notifier.listen_to(self.wake_ups)
        if self.grades:
            self.worker.listen_to(self.wake_ups)
        self._tasks: list[asyncio.Task[None]] = []
        self._resources = contextlib.AsyncExitStack()
        self.worker_task: asyncio.Task[None] | None = None  # the grading loop (drained on a graceful shutdown)
        self.notifier_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._warm_up: threading.Thread | None = None
        self._answers_in_flight: set[asyncio.Task[Any]] = set()  # see `saving_an_answer`

    async def login(self, token: str) -> None:
        use_api_base(self.runtime.settings.discord_api_base)
        if self.http.connector is discord.utils.MISSING or self.http.connector.closed:  # bound discord.py's pool
            self.http.connector = aiohttp.TCPConnector(limit=HTTP_CONNECTIONS)
        await super().login(token)
        self.meter.watch_acknowledgements()  # times every interaction's first response
        if self.runtime.settings.discord_api_base:
            _, url, _ = await self.http.get_bot_gateway()
            DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.add_dynamic_items(SessionButton, ShareButton)
        if self.background:
            await self._resources.enter_async_context(self.wake_ups)
            self.notifier_task = spawn(self.notifier.run(), name="feedback-notifier")
            expiry = spawn(self._expire_idle_sessions(), name="session-expiry")
            self._tasks = [self.notifier_task, expiry]
            if self.grades:
                self.worker_task = spawn(self.worker.run(), name="grading-worker")
                self._tasks.append(self.worker_task)
            else:
                log.info("not grading here (MOCKINTERVIEW_BOT_GRADING=false): `mockinterview worker` processes grade")
        guild_id = self.runtime.settings.dev_guild_id
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %s", len(synced), guild_id)

    async def on_ready(self) -> None:
        if self.user is not None:
            log.info("logged in as %s (%s); invite: %s", self.user, self.user.id, invite_url(self.user.id))
        if self.background:
            if self.grades and self._warm_up is None:  # a bot that doesn't grade never loads the offline model
                self._warm_up = start_warm_up(self.runtime.grader)
            _freeze_startup_objects()

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        # Called synchronously while parsing INTERACTION_CREATE, before any handler runs: the interaction is
        # counted and its acknowledgement timer registered before it can possibly be acknowledged.
        if event_name == "interaction" and args:
            self.meter.received(args[0], self.tree)
            note_modal_claim(args[0], self.modal_is_registered)
        super().dispatch(event_name, *args, **kwargs)

    @property
    def grades(self) -> bool:
        """Whether this process grades answers (`MOCKINTERVIEW_BOT_GRADING`), or leaves that to workers."""
        return self.runtime.settings.bot_grading

    @property
    def shard_info(self) -> dict[str, Any]:
        """This process's shard, for /healthz and the logs."""
        return {"shard_id": self.shard_id, "shard_count": self.shard_count}

    def wake_grading(self) -> None:
        self.worker.wake()

    @contextlib.contextmanager
    def saving_an_answer(self) -> Iterator[None]:
        """Marks the running handler as saving an acknowledged answer: `close` waits for it (briefly), so a
        shutdown never cancels a save the user was told is under way."""
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._answers_in_flight.add(task)
        try:
            yield
        finally:
            self._answers_in_flight.discard(task)

    def modal_is_registered(self, custom_id: str) -> bool:
        """Whether this process shows the modal `custom_id` (discord.py keeps modals in its view store)."""
        store = getattr(self._connection, "_view_store", None)
        return custom_id in getattr(store, "_modals", {})

    async def messageable(self, channel_id: int) -> discord.abc.Messageable | None:
        """A channel or thread to send to, from the cache or Discord; None when it's gone or hidden from us."""
        channel = self.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.fetch_channel(channel_id)
            except (discord.NotFound, discord.Forbidden):
                return None
        return channel if isinstance(channel, discord.abc.Messageable) else None

    async def _expire_idle_sessions(self) -> None:
        while not self._stopping.is_set():
            try:
                expired = await self.runtime.service.expire_idle()
                if expired:
                    log.info("expired %d idle sessions", len(expired))
            except Exception:
                log.exception("expiring idle sessions failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), EXPIRY_INTERVAL_S)

    async def close(self) -> None:
        self._stopping.set()
        if self._answers_in_flight:  # acknowledged answers still being saved: let them land first
            await asyncio.wait(set(self._answers_in_flight), timeout=CLOSE_GRACE_S)
        self.worker.stop()
        self.notifier.stop()
        if self._tasks:
            # In-flight grades finish (or their leases expire and another process takes them); don't hang on it.
            _, pending = await asyncio.wait(self._tasks, timeout=CLOSE_GRACE_S)
            for task in pending:
                task.cancel()
        await self._resources.aclose()  # the wake-up listener, once its loops are stopped
        # discord.py doesn't cancel its READY delay (guild_ready_timeout) on close: closing within it crashes that
        # task once the client has dropped its loop ("Task exception was never retrieved").
        ready_task = getattr(self._connection, "_ready_task", None)
        if ready_task is not None:
            ready_task.cancel()
        await finish_warm_up(self._warm_up)
        await super().close()
