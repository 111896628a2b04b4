"""A loopback Discord: REST under `/api/v10` plus a gateway websocket, on 127.0.0.1, for unmodified discord.py.

Point discord.py at it with `fake.patch_discord()` (or by hand: `discord.http.Route.BASE = fake.api_base` and
`DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`; `/gateway/bot` also returns the URL). The fake
speaks the real payload shapes, and checks what real Discord checks and what our bot could get wrong:

* REST: login (`/users/@me`, `/oauth2/applications/@me`), `/gateway/bot`, command sync (bulk overwrite, global and
  guild, validated like Discord: names, 1-100 char descriptions, option limits), interaction callbacks (types 4, 5,
  6, 7, 8, 9; once per interaction, within 3 s; a JSON body back because discord.py asks `with_response`), webhook
  followups and `@original` edits (token valid 15 min on the fake's clock, 401 after), channel messages, DM channels,
  private threads and thread members, multipart uploads. Message bodies are checked against Discord's limits
  (content 2,000; embeds: 6,000 total, title 256, description 4,096, 25 fields, field name 256, value 1,024).
  Every call is recorded (`fake.calls`); `await fake.wait_for_call(method, path_regex)` waits for one.
* Gateway: HELLO, heartbeat/ACK, IDENTIFY → READY (`session_id`, `resume_gateway_url`) → GUILD_CREATE, RESUME →
  replay + RESUMED, server RECONNECT and INVALID_SESSION, dropped connections; zlib-stream compression when asked.
* Drivers build INTERACTION_CREATE / MESSAGE_CREATE from the commands the bot synced: `slash`, `autocomplete`,
  `click`, `submit_modal`, `dm_message`, `channel_message`.
* Faults for reliability suites: `fail_next(method, path_regex, status=429|5xx, times=n)` (429s carry `Via`, as
  Discord's do, so discord.py retries instead of assuming a Cloudflare ban), `gateway_reconnect()`,
  `gateway_invalidate()`, `gateway_drop()`.
"""

# Waiters take a `timeout` on purpose: every wait in a test is bounded and says how long it waited.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

DISCORD_EPOCH_MS = 1_420_070_400_000
TOKEN_LIFETIME_S = 15 * 60
ACK_DEADLINE_S = 3.0

# Intents (gateway bit flags).
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Permission bits used by the fake.
PERM_VIEW_CHANNEL = 1 << 10
PERM_SEND_MESSAGES = 1 << 11
PERM_EMBED_LINKS = 1 << 14
PERM_ATTACH_FILES = 1 << 15
PERM_READ_HISTORY = 1 << 16
PERM_USE_APP_COMMANDS = 1 << 31
PERM_CREATE_PUBLIC_THREADS = 1 << 35
PERM_CREATE_PRIVATE_THREADS = 1 << 36
PERM_SEND_IN_THREADS = 1 << 38
BASE_PERMISSIONS = (
    PERM_VIEW_CHANNEL
    | PERM_SEND_MESSAGES
    | PERM_EMBED_LINKS
    | PERM_ATTACH_FILES
    | PERM_READ_HISTORY
    | PERM_USE_APP_COMMANDS
    | PERM_SEND_IN_THREADS
    | PERM_CREATE_PUBLIC_THREADS
)

# Channel types.
GUILD_TEXT = 0
DM = 1
GROUP_DM = 3
PRIVATE_THREAD = 12

# Interaction types and contexts.
APPLICATION_COMMAND = 2
MESSAGE_COMPONENT = 3
AUTOCOMPLETE = 4
MODAL_SUBMIT = 5
CONTEXT_GUILD, CONTEXT_BOT_DM, CONTEXT_PRIVATE_CHANNEL = 0, 1, 2

EPHEMERAL = 1 << 6
LOADING = 1 << 7

OPTION_TYPES = {"SUB_COMMAND": 1, "SUB_COMMAND_GROUP": 2, "STRING": 3, "INTEGER": 4, "BOOLEAN": 5, "NUMBER": 10}
COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class DiscordError(Exception):
    """Raised inside a route handler: becomes a Discord-shaped error response."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


def invalid_form(problem: str) -> DiscordError:
    return DiscordError(
        400, 50035, "Invalid Form Body", {"_errors": [{"code": "BASE_TYPE_INVALID", "message": problem}]}
    )


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Call:
    """One REST request the bot made, and what the fake answered."""

    index: int
    method: str
    path: str  # after /api/v10, e.g. "/interactions/123/abc/callback"
    query: dict[str, str]
    body: Any  # parsed JSON (or `payload_json` of a multipart request), else None
    files: list[UploadedFile]
    headers: dict[str, str]
    at: float  # the fake's clock
    status: int = 0
    response: Any = None

    @property
    def json(self) -> dict[str, Any]:
        assert isinstance(self.body, dict), f"{self.method} {self.path} had no JSON object body"
        return self.body

    def message_body(self) -> dict[str, Any]:
        """The message part of a body: a callback's `data`, else the body itself."""
        body = self.json
        return body.get("data") or {} if "type" in body and "data" in body else body


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


@dataclass
class FakeInteraction:
    """An interaction the fake sent to the bot, and everything the bot did with it."""

    fake: FakeDiscord
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    created_at: float
    user: dict[str, Any]
    channel_id: int
    guild_id: int | None
    message_id: int | None = None  # the message a component sits on
    callback: Call | None = None
    callback_type: int | None = None
    original_message_id: int | None = None
    modal: dict[str, Any] | None = None
    autocomplete_choices: list[dict[str, Any]] | None = None

    @property
    def path_prefix(self) -> str:
        return f"/interactions/{self.id}/{self.token}/callback"

    async def wait_callback(self, timeout: float = 5.0) -> Call:
        return await self.fake.wait_for_call("POST", re.escape(self.path_prefix) + "$", timeout=timeout)

    async def wait_webhook(self, method: str, suffix: str = "", timeout: float = 10.0, since: int = 0) -> Call:
        path = re.escape(f"/webhooks/{self.fake.application_id}/{self.token}") + suffix
        return await self.fake.wait_for_call(method, path + "$", timeout=timeout, since=since)

    def webhook_calls(self) -> list[Call]:
        prefix = f"/webhooks/{self.fake.application_id}/{self.token}"
        return [c for c in self.fake.calls if c.path.startswith(prefix)]

    @property
    def original_message(self) -> dict[str, Any] | None:
        if self.original_message_id is None:
            return None
        return self.fake.messages.get(self.original_message_id)

    def followups(self) -> list[dict[str, Any]]:
        return [m for m in self.fake.messages.values() if m.get("_token") == self.token and m.get("_followup")]


@dataclass
class _GatewaySession:
    session_id: str
    intents: int
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)


class _Connection:
    def __init__(self, ws: web.WebSocketResponse, compress: str | None, path: str) -> None:
        self.ws = ws
        self.path = path
        self.compressor = zlib.compressobj() if compress == "zlib-stream" else None
        self.session: _GatewaySession | None = None
        self.last_seq = 0
        self.lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        await self.send_many([payload])

    async def send_many(self, payloads: list[dict[str, Any]]) -> float | None:
        """Encode (and compress) every payload first, then write the frames back to back: a burst that arrives
        at once, without the encoding time spread between the frames. Returns when the first frame was written
        (`time.time()`), or None when the socket is closed."""
        async with self.lock:
            if self.ws.closed:
                return None
            frames = [self._encode(payload) for payload in payloads]
            started = time.time()
            for frame in frames:
                if isinstance(frame, bytes):
                    await self.ws.send_bytes(frame)
                else:
                    await self.ws.send_str(frame)
            self.last_seq = max([self.last_seq, *(payload["s"] for payload in payloads if payload.get("s"))])
            return started

    def _encode(self, payload: dict[str, Any]) -> bytes | str:
        text = json.dumps(payload)
        if self.compressor is None:
            return text
        return self.compressor.compress(text.encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)


class FakeDiscord:
    """The loopback Discord. Use as `async with FakeDiscord() as fake:`."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",  # noqa: S107 - a fake token for a fake server
        heartbeat_interval_ms: int = 41_250,
        enforce_ack_deadline: bool = True,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.enforce_ack_deadline = enforce_ack_deadline
        self.clock_offset = 0.0
        self._counter = itertools.count(1)
        self.application_id = self.snowflake()
        self.bot_user: dict[str, Any] = self._user_payload(self.application_id, "MockInterviewer", bot=True)
        self.users: dict[int, dict[str, Any]] = {self.application_id: self.bot_user}
        self.owner = self.make_user("owner")

        self.calls: list[Call] = []
        self.unhandled: list[Call] = []
        self.faults: list[Fault] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, dict[str, Any]] = {}
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.dm_closed: set[int] = set()  # users who don't accept DMs from the bot
        self.thread_members: dict[int, set[int]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self._by_token: dict[str, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}

        # Gateway state.
        self.sessions: dict[str, _GatewaySession] = {}
        self.session: _GatewaySession | None = None
        self.connection: _Connection | None = None
        self.gateway_log: list[tuple[str, Any]] = []  # ("identify"|"resume"|"heartbeat"|"close"|..., data)
        self.identify_count = 0
        self.resume_count = 0
        self.ack_heartbeats = True
        self._live = asyncio.Event()
        self._changed = asyncio.Event()

        self._runner: web.AppRunner | None = None
        self.port = 0
        self._saved: tuple[str, Any] | None = None

        self.guild = self.add_guild("Study Group")
        self.text_channel = next(c for c in self.guild["channels"] if c["type"] == GUILD_TEXT)

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/gateway", self._gateway)
        app.router.add_route("GET", "/resume", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.unpatch_discord()
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/resume"

    def patch_discord(self) -> None:
        """Point this process's discord.py at the fake (undone by `unpatch_discord` / `stop`)."""
        import discord.http
        import yarl
        from discord.gateway import DiscordWebSocket

        if self._saved is None:
            self._saved = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.api_base
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

    def unpatch_discord(self) -> None:
        if self._saved is None:
            return
        import discord.http
        from discord.gateway import DiscordWebSocket

        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = self._saved
        self._saved = None

    # ---------------------------------------------------------------- clock, ids, entities

    def now(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (token expiry, ack deadline, timestamps) forward."""
        self.clock_offset += seconds

    def snowflake(self) -> int:
        millis = int(self.now() * 1000) - DISCORD_EPOCH_MS
        return (millis << 22) | (next(self._counter) & 0x3FFFFF)

    @staticmethod
    def _user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": str(user_id),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user.update(bot=True, flags=0, verified=True, mfa_enabled=False)
        return user

    def make_user(self, name: str = "candidate") -> dict[str, Any]:
        user = self._user_payload(self.snowflake(), name)
        self.users[int(user["id"])] = user
        return user

    def add_guild(self, name: str, *, allow_private_threads: bool = True) -> dict[str, Any]:
        guild_id = self.snowflake()
        permissions = BASE_PERMISSIONS | (PERM_CREATE_PRIVATE_THREADS if allow_private_threads else 0)
        channel = {
            "id": str(self.snowflake()),
            "type": GUILD_TEXT,
            "guild_id": str(guild_id),
            "name": "interview-practice",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        guild: dict[str, Any] = {
            "id": str(guild_id),
            "name": name,
            "icon": None,
            "owner_id": self.owner["id"],
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "system_channel_flags": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "features": [],
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": str(permissions),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "channels": [channel],
            "threads": [],
            "members": [self._member_payload(self.bot_user, guild_id)],
            "member_count": 2,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": _iso(self.now()),
            "_permissions": permissions,
        }
        self.guilds[guild_id] = guild
        self.channels[int(channel["id"])] = channel
        return guild

    def _member_payload(self, user: dict[str, Any], guild_id: int) -> dict[str, Any]:
        return {
            "user": user,
            "roles": [],
            "joined_at": _iso(self.now()),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
        }

    def dm_channel_for(self, user: dict[str, Any]) -> dict[str, Any]:
        user_id = int(user["id"])
        if user_id not in self.dm_channels:
            channel = {
                "id": str(self.snowflake()),
                "type": DM,
                "recipients": [user],
                "last_message_id": None,
                "flags": 0,
            }
            self.dm_channels[user_id] = int(channel["id"])
            self.channels[int(channel["id"])] = channel
        return self.channels[self.dm_channels[user_id]]

    def messages_in(self, channel_id: int | str) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == str(channel_id)]

    def dms_to(self, user: dict[str, Any]) -> list[dict[str, Any]]:
        channel_id = self.dm_channels.get(int(user["id"]))
        return [] if channel_id is None else [m for m in self.messages_in(channel_id) if m["author"]["bot"]]

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] == PRIVATE_THREAD]

    # ---------------------------------------------------------------- waiting

    def mark(self) -> int:
        """The index the next call will get: pass it as `since=` to wait only for later calls."""
        return len(self.calls)

    def find_calls(self, method: str, path_regex: str, since: int = 0) -> list[Call]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls[since:] if c.method == method and pattern.search(c.path)]

    async def wait_for_call(
        self,
        method: str,
        path_regex: str,
        timeout: float = 5.0,
        *,
        since: int = 0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> Call:
        """The first recorded call (at index ≥ `since`) matching; waits up to `timeout` seconds for it."""
        return await self.wait_until(
            lambda: next(
                (c for c in self.find_calls(method, path_regex, since) if predicate is None or predicate(c)), None
            ),
            timeout,
            f"{method} {path_regex}",
        )

    async def wait_until(self, probe: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
        """Wait until `probe()` returns something truthy (re-checked on every REST call or gateway event)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    result = probe()
                    if result:
                        return result
                    self._changed.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(0.05):
                            await self._changed.wait()
        except TimeoutError:
            seen = "\n  ".join(f"{c.method} {c.path} -> {c.status}" for c in self.calls[-15:])
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last calls:\n  {seen}") from None

    def _notify(self) -> None:
        self._changed.set()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await self.wait_until(lambda: self._live.is_set(), timeout, "a live gateway session")

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        path_regex: str,
        *,
        status: int = 429,
        times: int = 1,
        retry_after: float = 0.05,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` matching calls with an error (429s carry `Via` and `retry_after`)."""
        if body is None:
            if status == 429:
                body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": False}
            else:
                body = {"message": f"{status}: Server Error", "code": 0}
        all_headers = {"Via": "1.1 google"} if status == 429 else {}
        if status == 429:
            all_headers["Retry-After"] = str(retry_after)
        all_headers.update(headers or {})
        self.faults.append(Fault(method, re.compile(path_regex), status, body, all_headers, times))

    # ---------------------------------------------------------------- REST

    def _routes(self) -> Iterator[tuple[str, str, Callable[..., Any]]]:
        yield "GET", r"/users/@me", self._get_me
        yield "GET", r"/oauth2/applications/@me", self._get_application
        yield "GET", r"/gateway/bot", self._get_gateway_bot
        yield "GET", r"/gateway", self._get_gateway
        yield "GET", r"/users/(?P<user_id>\d+)", self._get_user
        yield "POST", r"/users/@me/channels", self._create_dm
        yield "PUT", r"/applications/(?P<app_id>\d+)/commands", self._put_global_commands
        yield "GET", r"/applications/(?P<app_id>\d+)/commands", self._get_global_commands
        yield "PUT", r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)/commands", self._put_guild_commands
        yield "GET", r"/applications/(?P<app_id>\d+)/guilds/(?P<guild_id>\d+)/commands", self._get_guild_commands
        yield "POST", r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", self._callback
        yield "POST", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)", self._followup
        yield "GET", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", self._get_wh_msg
        yield "PATCH", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", self._edit_wh_msg
        yield "DELETE", r"/webhooks/(?P<app_id>\d+)/(?P<token>[^/]+)/messages/(?P<mid>@original|\d+)", self._del_wh_msg
        yield "GET", r"/channels/(?P<cid>\d+)", self._get_channel
        yield "DELETE", r"/channels/(?P<cid>\d+)", self._delete_channel
        yield "POST", r"/channels/(?P<cid>\d+)/messages", self._create_message
        yield "GET", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._get_message
        yield "PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._edit_message
        yield "DELETE", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._delete_message
        yield "POST", r"/channels/(?P<cid>\d+)/threads", self._create_thread
        yield "PUT", r"/channels/(?P<cid>\d+)/thread-members/(?P<uid>@me|\d+)", self._add_thread_member
        yield "POST", r"/channels/(?P<cid>\d+)/typing", self._typing

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        call = Call(
            index=len(self.calls),
            method=request.method,
            path=path,
            query=dict(request.query),
            body=body,
            files=files,
            headers=dict(request.headers),
            at=self.now(),
        )
        self.calls.append(call)
        headers: dict[str, str] = {}
        fault = next(
            (f for f in self.faults if f.times > 0 and f.method == call.method and f.pattern.search(path)), None
        )
        if fault is not None:  # a faulted call takes no effect, as on Discord
            fault.times -= 1
            status, payload, headers = fault.status, fault.body, fault.headers
        else:
            try:
                status, payload = await self._handle(call)
            except DiscordError as exc:
                status, payload = exc.status, exc.body()
        call.status, call.response = status, payload
        self._notify()
        if status == 204:
            return web.Response(status=204, headers=headers)
        # discord.py only parses JSON when Content-Type is exactly "application/json" (no charset).
        return web.Response(
            status=status, body=json.dumps(payload).encode(), headers={"Content-Type": "application/json", **headers}
        )

    async def _handle(self, call: Call) -> tuple[int, Any]:
        for method, regex, handler in self._routes():
            match = re.fullmatch(regex, call.path)
            if match and method == call.method:
                if not call.path.startswith(("/interactions/", "/webhooks/")):
                    self._check_auth(call)
                result = await handler(call, **match.groupdict())
                return (204, None) if result is None else (200, result)
        self.unhandled.append(call)
        raise DiscordError(404, 0, "404: Not Found")

    def _check_auth(self, call: Call) -> None:
        if call.headers.get("Authorization") != f"Bot {self.token}":
            raise DiscordError(401, 0, "401: Unauthorized")

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
        ctype = request.headers.get("Content-Type", "")
        if ctype.startswith("multipart/"):
            body: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                name = part.name or ""  # type: ignore[union-attr]
                if name == "payload_json":
                    body = json.loads(data)
                else:
                    files.append(UploadedFile(name, part.filename or "", part.headers.get("Content-Type"), bytes(data)))  # type: ignore[union-attr]
            return body, files
        raw = await request.read()
        if raw and ctype.startswith("application/json"):
            return json.loads(raw), []
        return None, []

    # -- login and gateway discovery

    async def _get_me(self, call: Call) -> dict[str, Any]:
        return self.bot_user

    async def _get_application(self, call: Call) -> dict[str, Any]:
        return {
            "id": str(self.application_id),
            "name": "MockInterviewer",
            "icon": None,
            "description": "Mock interviews for GenAI roles",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.owner,
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "summary": "",
            "rpc_origins": [],
            "integration_types_config": {"0": {}, "1": {}},
        }

    async def _get_gateway_bot(self, call: Call) -> dict[str, Any]:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1},
        }

    async def _get_gateway(self, call: Call) -> dict[str, Any]:
        return {"url": self.gateway_url}

    async def _get_user(self, call: Call, user_id: str) -> dict[str, Any]:
        try:
            return self.users[int(user_id)]
        except KeyError:
            raise DiscordError(404, 10013, "Unknown User") from None

    async def _create_dm(self, call: Call) -> dict[str, Any]:
        recipient = int(call.json["recipient_id"])
        if recipient not in self.users:
            raise DiscordError(400, 50033, "Invalid Recipients")
        return self.dm_channel_for(self.users[recipient])

    # -- application commands

    def _check_app(self, app_id: str) -> None:
        if int(app_id) != self.application_id:
            raise DiscordError(403, 50001, "Missing Access")

    def _store_commands(self, commands: list[dict[str, Any]], guild_id: int | None) -> list[dict[str, Any]]:
        if not isinstance(commands, list):
            raise invalid_form("expected a list of commands")
        limit = 100
        if len(commands) > limit:
            raise invalid_form(f"more than {limit} commands")
        seen: set[tuple[int, str]] = set()
        stored = []
        for command in commands:
            _validate_command(command)
            key = (command.get("type", 1), command["name"])
            if key in seen:
                raise invalid_form(f"duplicate command name {command['name']!r}")
            seen.add(key)
            stored.append(
                {
                    **command,
                    "id": str(self.snowflake()),
                    "application_id": str(self.application_id),
                    "version": str(self.snowflake()),
                    "type": command.get("type", 1),
                    "default_member_permissions": command.get("default_member_permissions"),
                    "nsfw": command.get("nsfw", False),
                    **({"guild_id": str(guild_id)} if guild_id else {}),
                }
            )
        return stored

    async def _put_global_commands(self, call: Call, app_id: str) -> list[dict[str, Any]]:
        self._check_app(app_id)
        self.global_commands = self._store_commands(call.body, None)
        return self.global_commands

    async def _get_global_commands(self, call: Call, app_id: str) -> list[dict[str, Any]]:
        self._check_app(app_id)
        return self.global_commands

    async def _put_guild_commands(self, call: Call, app_id: str, guild_id: str) -> list[dict[str, Any]]:
        self._check_app(app_id)
        if int(guild_id) not in self.guilds:
            raise DiscordError(403, 50001, "Missing Access")
        self.guild_commands[int(guild_id)] = self._store_commands(call.body, int(guild_id))
        return self.guild_commands[int(guild_id)]

    async def _get_guild_commands(self, call: Call, app_id: str, guild_id: str) -> list[dict[str, Any]]:
        self._check_app(app_id)
        return self.guild_commands.get(int(guild_id), [])

    # -- interaction callbacks

    def _interaction(self, iid: str, token: str) -> FakeInteraction:
        interaction = self.interactions.get(int(iid))
        if interaction is None or not secrets.compare_digest(interaction.token, token):
            raise DiscordError(404, 10062, "Unknown interaction")
        return interaction

    async def _callback(self, call: Call, iid: str, token: str) -> dict[str, Any]:
        interaction = self._interaction(iid, token)
        if interaction.callback is not None:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if self.enforce_ack_deadline and call.at - interaction.created_at > ACK_DEADLINE_S:
            raise DiscordError(404, 10062, "Unknown interaction")
        kind = call.json.get("type")
        data = call.json.get("data") or {}
        allowed = {
            APPLICATION_COMMAND: {4, 5, 9},
            MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
            AUTOCOMPLETE: {8},
            MODAL_SUBMIT: {4, 5, 6, 7} if interaction.message_id else {4, 5},
        }[interaction.type]
        if kind not in allowed:
            raise invalid_form(f"callback type {kind} is not valid for interaction type {interaction.type}")
        resource: dict[str, Any] = {"type": kind}
        response: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        if kind in (4, 5):
            flags = int(data.get("flags") or 0)
            if kind == 5:
                flags |= LOADING
            else:
                _validate_message(data, call.files)
            message = self._new_message(
                interaction.channel_id, self.bot_user, data, call.files, flags=flags, guild_id=interaction.guild_id
            )
            message["_token"] = interaction.token
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user,
                "authorizing_integration_owners": interaction.payload.get("authorizing_integration_owners", {}),
            }
            interaction.original_message_id = int(message["id"])
            response.update(
                response_message_id=message["id"],
                response_message_loading=kind == 5,
                response_message_ephemeral=bool(flags & EPHEMERAL),
            )
            resource["message"] = self._public(message)
        elif kind in (6, 7):
            assert interaction.message_id is not None
            interaction.original_message_id = interaction.message_id
            if kind == 7:
                _validate_message(data, call.files)
                self._apply_edit(self.messages[interaction.message_id], data, call.files)
                resource["message"] = self._public(self.messages[interaction.message_id])
        elif kind == 8:
            choices = data.get("choices", [])
            if len(choices) > 25:
                raise invalid_form("more than 25 autocomplete choices")
            interaction.autocomplete_choices = choices
        elif kind == 9:
            _validate_modal(data)
            interaction.modal = data
        interaction.callback = call
        interaction.callback_type = kind
        return {"interaction": response, "resource": resource}

    # -- webhooks (followups and @original)

    def _webhook_interaction(self, app_id: str, token: str, call: Call) -> FakeInteraction:
        interaction = self._by_token.get(token)
        if int(app_id) != self.application_id or interaction is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if call.at - interaction.created_at > TOKEN_LIFETIME_S:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if interaction.callback is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, interaction: FakeInteraction, mid: str) -> dict[str, Any]:
        message_id = interaction.original_message_id if mid == "@original" else int(mid)
        message = self.messages.get(message_id or 0)
        if message is None or (mid != "@original" and message.get("_token") != interaction.token):
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _followup(self, call: Call, app_id: str, token: str) -> dict[str, Any] | None:
        interaction = self._webhook_interaction(app_id, token, call)
        data = call.json
        _validate_message(data, call.files)
        flags = int(data.get("flags") or 0)
        original = interaction.original_message
        if original is not None and original["flags"] & LOADING and interaction.callback_type == 5:
            # The first followup after a deferred response replaces the "thinking" message (Discord's behaviour).
            original["flags"] &= ~LOADING
            self._apply_edit(original, data, call.files)
            message = original
        else:
            message = self._new_message(
                interaction.channel_id, self.bot_user, data, call.files, flags=flags, guild_id=interaction.guild_id
            )
            message["_token"] = token
            message["_followup"] = True
            message["webhook_id"] = str(self.application_id)
        return self._public(message) if call.query.get("wait") in ("1", "true", "True") else None

    async def _get_wh_msg(self, call: Call, app_id: str, token: str, mid: str) -> dict[str, Any]:
        return self._public(self._webhook_message(self._webhook_interaction(app_id, token, call), mid))

    async def _edit_wh_msg(self, call: Call, app_id: str, token: str, mid: str) -> dict[str, Any]:
        message = self._webhook_message(self._webhook_interaction(app_id, token, call), mid)
        body = call.json if call.body is not None else {}
        _validate_message(body, call.files, edit=True)
        message["flags"] &= ~LOADING
        self._apply_edit(message, body, call.files)
        return self._public(message)

    async def _del_wh_msg(self, call: Call, app_id: str, token: str, mid: str) -> None:
        message = self._webhook_message(self._webhook_interaction(app_id, token, call), mid)
        self.messages.pop(int(message["id"]), None)

    # -- channels, messages, threads

    def _channel(self, cid: str) -> dict[str, Any]:
        channel = self.channels.get(int(cid))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    async def _get_channel(self, call: Call, cid: str) -> dict[str, Any]:
        return self._channel(cid)

    async def _delete_channel(self, call: Call, cid: str) -> dict[str, Any]:
        channel = self._channel(cid)
        if channel["type"] != PRIVATE_THREAD or channel.get("owner_id") != self.bot_user["id"]:
            raise DiscordError(403, 50013, "Missing Permissions")
        del self.channels[int(cid)]
        guild = self.guilds[int(channel["guild_id"])]
        guild["threads"] = [t for t in guild["threads"] if t["id"] != cid]
        self._spawn(self.dispatch("THREAD_DELETE", {k: channel[k] for k in ("id", "guild_id", "parent_id", "type")}))
        return channel

    async def _create_message(self, call: Call, cid: str) -> dict[str, Any]:
        channel = self._channel(cid)
        if channel["type"] == DM:
            recipient = int(channel["recipients"][0]["id"])
            if recipient in self.dm_closed:
                raise DiscordError(403, 50007, "Cannot send messages to this user")
        if channel["type"] == PRIVATE_THREAD and channel.get("thread_metadata", {}).get("archived"):
            raise DiscordError(400, 50083, "Thread is archived")
        _validate_message(call.json, call.files)
        guild_id = int(channel["guild_id"]) if channel.get("guild_id") else None
        message = self._new_message(int(cid), self.bot_user, call.json, call.files, guild_id=guild_id)
        return self._public(message)

    def _channel_message(self, cid: str, mid: str) -> dict[str, Any]:
        self._channel(cid)
        message = self.messages.get(int(mid))
        if message is None or message["channel_id"] != cid:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _get_message(self, call: Call, cid: str, mid: str) -> dict[str, Any]:
        return self._public(self._channel_message(cid, mid))

    async def _edit_message(self, call: Call, cid: str, mid: str) -> dict[str, Any]:
        message = self._channel_message(cid, mid)
        if message["author"]["id"] != self.bot_user["id"]:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        _validate_message(call.json, call.files, edit=True)
        self._apply_edit(message, call.json, call.files)
        return self._public(message)

    async def _delete_message(self, call: Call, cid: str, mid: str) -> None:
        message = self._channel_message(cid, mid)
        self.messages.pop(int(message["id"]))

    async def _create_thread(self, call: Call, cid: str) -> dict[str, Any]:
        parent = self._channel(cid)
        if parent["type"] != GUILD_TEXT:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        guild = self.guilds[int(parent["guild_id"])]
        body = call.json
        kind = body.get("type", 11)
        if kind == PRIVATE_THREAD and not guild["_permissions"] & PERM_CREATE_PRIVATE_THREADS:
            raise DiscordError(403, 50013, "Missing Permissions")
        name = body.get("name", "")
        if not 1 <= len(name) <= 100:
            raise invalid_form("thread name must be 1-100 characters")
        if body.get("auto_archive_duration", 4320) not in (60, 1440, 4320, 10080):
            raise invalid_form("auto_archive_duration must be 60, 1440, 4320 or 10080")
        thread_id = self.snowflake()
        thread = {
            "id": str(thread_id),
            "type": kind,
            "guild_id": parent["guild_id"],
            "parent_id": parent["id"],
            "owner_id": self.bot_user["id"],
            "name": name,
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user", 0),
            "message_count": 0,
            "member_count": 1,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 4320),
                "archive_timestamp": _iso(self.now()),
                "locked": False,
                "invitable": body.get("invitable", True),
                "create_timestamp": _iso(self.now()),
            },
            "member": {
                "id": str(thread_id),
                "user_id": self.bot_user["id"],
                "join_timestamp": _iso(self.now()),
                "flags": 0,
            },
        }
        self.channels[thread_id] = thread
        self.thread_members[thread_id] = {self.application_id}
        guild["threads"].append(thread)
        self._spawn(self.dispatch("THREAD_CREATE", {**thread, "newly_created": True}, wait=False))
        return thread

    async def _add_thread_member(self, call: Call, cid: str, uid: str) -> None:
        channel = self._channel(cid)
        if channel["type"] != PRIVATE_THREAD and channel["type"] != 11:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        user_id = self.application_id if uid == "@me" else int(uid)
        self.thread_members[int(cid)].add(user_id)

    async def _typing(self, call: Call, cid: str) -> None:
        self._channel(cid)

    # -- message store

    def _attachments(self, files: list[UploadedFile], body: dict[str, Any]) -> list[dict[str, Any]]:
        attachments = []
        for upload in files:
            attachment_id = self.snowflake()
            attachments.append(
                {
                    "id": str(attachment_id),
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{upload.filename}",
                    "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{upload.filename}",
                    "content_type": upload.content_type,
                    "_data": upload.data,
                }
            )
        return attachments

    def _new_message(
        self,
        channel_id: int,
        author: dict[str, Any],
        data: dict[str, Any],
        files: list[UploadedFile],
        *,
        flags: int = 0,
        guild_id: int | None = None,
    ) -> dict[str, Any]:
        message_id = self.snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": data.get("content") or "",
            "timestamp": _iso(self.now()),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": self._attachments(files, data),
            "embeds": data.get("embeds") or [],
            "components": data.get("components") or [],
            "pinned": False,
            "type": 0,
            "flags": int(data.get("flags") or 0) | flags,
            "allowed_mentions": data.get("allowed_mentions"),
        }
        if guild_id is not None:
            message["guild_id"] = str(guild_id)
        self.messages[message_id] = message
        self._notify()
        return message

    def _apply_edit(self, message: dict[str, Any], data: dict[str, Any], files: list[UploadedFile]) -> None:
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in data:
                message[key] = data[key] if data[key] is not None else ([] if key != "content" else "")
        if "attachments" in data or files:
            kept_ids = {str(a.get("id")) for a in data.get("attachments", []) if a.get("id") is not None}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids] if "attachments" in data else []
            if "attachments" not in data:
                kept = message["attachments"]
            message["attachments"] = kept + self._attachments(files, data)
        message["edited_timestamp"] = _iso(self.now())
        self._notify()

    @staticmethod
    def _public(message: dict[str, Any]) -> dict[str, Any]:
        public = {k: v for k, v in message.items() if not k.startswith("_") and k != "allowed_mentions"}
        public["attachments"] = [{k: v for k, v in a.items() if not k.startswith("_")} for a in message["attachments"]]
        return public

    def attachment_data(self, message: dict[str, Any], index: int = 0) -> bytes:
        data: bytes = message["attachments"][index]["_data"]
        return data

    # ---------------------------------------------------------------- gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        if request.query.get("v") != "10" or request.query.get("encoding", "json") != "json":
            await ws.close(code=4012, message=b"Invalid API version")
            return ws
        connection = _Connection(ws, request.query.get("compress"), request.path)
        self.gateway_log.append(("connect", {"path": request.path, "compress": request.query.get("compress")}))
        await connection.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                await self._on_gateway(connection, payload)
        finally:
            self.gateway_log.append(("close", {"code": ws.close_code}))
            if self.connection is connection:
                self.connection = None
                self._live.clear()
            self._notify()
        return ws

    async def _on_gateway(self, connection: _Connection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d")
        if op == 1:
            self.gateway_log.append(("heartbeat", data))
            if self.ack_heartbeats:
                await connection.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(connection, data)
        elif op == 6:
            await self._resume(connection, data)
        else:
            self.gateway_log.append(("op", payload))
        self._notify()

    async def _identify(self, connection: _Connection, data: dict[str, Any]) -> None:
        self.identify_count += 1
        self.gateway_log.append(("identify", {k: v for k, v in data.items() if k != "token"}))
        if data.get("token") != self.token:
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = _GatewaySession(secrets.token_hex(16), int(data.get("intents") or 0))
        self.sessions[session.session_id] = session
        self.session = session
        connection.session = session
        await self._replace_connection(connection)
        ready = {
            "v": 10,
            "user": self.bot_user,
            "guilds": [{"id": g["id"], "unavailable": True} for g in self.guilds.values()],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
        }
        await self._send_event(connection, "READY", ready)
        for guild in self.guilds.values():
            await self._send_event(
                connection, "GUILD_CREATE", {k: v for k, v in guild.items() if not k.startswith("_")}
            )
        self._live.set()

    async def _resume(self, connection: _Connection, data: dict[str, Any]) -> None:
        self.resume_count += 1
        self.gateway_log.append(("resume", {"session_id": data.get("session_id"), "seq": data.get("seq")}))
        session = self.sessions.get(data.get("session_id") or "")
        if data.get("token") != self.token or session is None or session is not self.session:
            await connection.send({"op": 9, "d": False, "s": None, "t": None})
            return
        connection.session = session
        await self._replace_connection(connection)
        seq = int(data.get("seq") or 0)
        for event in session.events:
            if event["s"] > seq:
                await connection.send(event)
        await self._send_event(connection, "RESUMED", {})
        self._live.set()

    async def _replace_connection(self, connection: _Connection) -> None:
        old = self.connection
        self.connection = connection
        if old is not None and old is not connection and not old.ws.closed:
            await old.ws.close(code=4000)

    async def _send_event(self, connection: _Connection, name: str, data: dict[str, Any]) -> None:
        session = connection.session
        assert session is not None
        session.seq += 1
        event = {"op": 0, "t": name, "s": session.seq, "d": data}
        session.events.append(event)
        await connection.send(event)

    async def dispatch(self, name: str, data: dict[str, Any], *, wait: bool = True, timeout: float = 10.0) -> None:
        """Send a DISPATCH event; while the bot is disconnected it is buffered and replayed on RESUME."""
        await self.dispatch_many([(name, data)], wait=wait, timeout=timeout)

    async def dispatch_many(
        self,
        events: list[tuple[str, dict[str, Any]]],
        *,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> float | None:
        """Send several DISPATCH events as one burst (see `_Connection.send_many`); returns when (by `now()`) the
        first was written, or None when the bot is disconnected (they are replayed on RESUME)."""
        if wait:
            await self.wait_ready(timeout)
        session = self.session
        if session is None:
            raise AssertionError("no gateway session: the bot never identified")
        payloads = []
        for name, data in events:
            session.seq += 1
            payloads.append({"op": 0, "t": name, "s": session.seq, "d": data})
        session.events.extend(payloads)
        connection = self.connection
        if connection is not None and connection.session is session and self._live.is_set():
            written = await connection.send_many(payloads)
            return None if written is None else written + self.clock_offset
        return None

    async def gateway_reconnect(self) -> None:
        """Send RECONNECT (op 7): the client must reconnect and RESUME on `resume_gateway_url`."""
        connection = self.connection
        assert connection is not None, "no live gateway connection"
        self._live.clear()
        await connection.send({"op": 7, "d": None, "s": None, "t": None})

    async def gateway_invalidate(self, *, resumable: bool = False) -> None:
        """Send INVALID_SESSION (op 9); not resumable means the client must IDENTIFY again."""
        connection = self.connection
        assert connection is not None, "no live gateway connection"
        self._live.clear()
        if not resumable and self.session is not None:
            self.sessions.pop(self.session.session_id, None)
            self.session = None
        await connection.send({"op": 9, "d": resumable, "s": None, "t": None})

    async def gateway_drop(self, code: int = 4000) -> None:
        """Close the websocket from the server side (4000: unknown error, resumable)."""
        connection = self.connection
        assert connection is not None, "no live gateway connection"
        self._live.clear()
        self.connection = None
        await connection.ws.close(code=code)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks = getattr(self, "_tasks", set())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- drivers

    def _command(self, name: str, guild_id: int | None) -> dict[str, Any]:
        candidates = (self.guild_commands.get(guild_id, []) if guild_id else []) + self.global_commands
        for command in candidates:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
        registered = sorted({c["name"] for c in candidates})
        raise AssertionError(f"/{name} is not registered (registered: {registered}); did the bot sync its commands?")

    def _context(
        self, user: dict[str, Any], guild: dict[str, Any] | None, channel: dict[str, Any] | None, private: bool
    ) -> dict[str, Any]:
        """The routing part of an interaction payload: guild+member, the bot's DM, or another private channel."""
        payload: dict[str, Any] = {"locale": "en-US", "entitlements": [], "attachment_size_limit": 10 * 1024 * 1024}
        if guild is not None:
            channel = channel or next(c for c in guild["channels"] if c["type"] == GUILD_TEXT)
            member = self._member_payload(user, int(guild["id"]))
            member["permissions"] = str(guild["_permissions"])
            payload.update(
                guild_id=guild["id"],
                guild={"id": guild["id"], "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=member,
                context=CONTEXT_GUILD,
                app_permissions=str(guild["_permissions"]),
                authorizing_integration_owners={"0": guild["id"]},
            )
        elif private:
            # A user-installed app used in someone else's DM or a group DM: the bot is not a member there.
            channel = channel or {"id": str(self.snowflake()), "type": DM, "recipients": [self.make_user("friend")]}
            self.channels.setdefault(int(channel["id"]), channel)
            payload.update(
                user=user,
                context=CONTEXT_PRIVATE_CHANNEL,
                app_permissions=str(PERM_EMBED_LINKS | PERM_ATTACH_FILES | PERM_USE_APP_COMMANDS),
                authorizing_integration_owners={"1": user["id"]},
            )
        else:
            channel = channel or self.dm_channel_for(user)
            payload.update(
                user=user,
                context=CONTEXT_BOT_DM,
                app_permissions=str(BASE_PERMISSIONS),
                authorizing_integration_owners={"0": "0", "1": user["id"]},
            )
        assert channel is not None
        payload["channel_id"] = channel["id"]
        payload["channel"] = {k: v for k, v in channel.items() if not k.startswith("_")}
        return payload

    async def _send_interaction(
        self,
        kind: int,
        data: dict[str, Any],
        user: dict[str, Any],
        *,
        guild: dict[str, Any] | None = None,
        channel: dict[str, Any] | None = None,
        private: bool = False,
        message: dict[str, Any] | None = None,
        wait: bool = True,
    ) -> FakeInteraction:
        interaction_id = self.snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": kind,
            "token": token,
            "version": 1,
            "data": data,
            **self._context(user, guild, channel, private),
        }
        if message is not None:
            payload["message"] = self._public(message)
        interaction = FakeInteraction(
            fake=self,
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            created_at=self.now(),
            user=user,
            channel_id=int(payload["channel_id"]),
            guild_id=int(guild["id"]) if guild else None,
            message_id=int(message["id"]) if message else None,
        )
        self.interactions[interaction_id] = interaction
        self._by_token[token] = interaction
        await self.dispatch("INTERACTION_CREATE", payload, wait=wait)
        return interaction

    def _command_data(
        self, command_line: str, options: dict[str, Any], guild_id: int | None, focused: str | None = None
    ) -> dict[str, Any]:
        name, *path = command_line.split()
        command = self._command(name, guild_id)
        spec: dict[str, Any] = command
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        container = data
        for part in path:
            sub = next((o for o in spec.get("options", []) if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                raise AssertionError(f"/{name} has no subcommand {part!r}")
            nested: dict[str, Any] = {"name": part, "type": sub["type"], "options": []}
            container.setdefault("options", []).append(nested)
            container, spec = nested, sub
        known = {o["name"]: o for o in spec.get("options", []) if o["type"] not in (1, 2)}
        if any(o["type"] in (1, 2) for o in spec.get("options", [])):
            raise AssertionError(f"/{command_line} needs a subcommand")
        for option_name, value in options.items():
            if option_name not in known:
                raise AssertionError(f"/{command_line} has no option {option_name!r} (has {sorted(known)})")
            option_spec = known[option_name]
            _check_option_value(option_spec, value, partial=option_name == focused)
            entry: dict[str, Any] = {"name": option_name, "type": option_spec["type"], "value": value}
            if option_name == focused:
                entry["focused"] = True
            container.setdefault("options", []).append(entry)
        if focused is None:
            missing = [n for n, o in known.items() if o.get("required") and n not in options]
            if missing:
                raise AssertionError(f"/{command_line} requires {missing}")
        return data

    async def slash(
        self,
        command_line: str,
        options: dict[str, Any] | None = None,
        *,
        user: dict[str, Any],
        guild: dict[str, Any] | None = None,
        channel: dict[str, Any] | None = None,
        private: bool = False,
        wait: bool = True,
    ) -> FakeInteraction:
        """Run a slash command ("interview start") as `user`: in `guild` (a channel of it), else in the bot's DM.

        `private=True` is a user-installed app used in a DM the bot is not part of. `wait=False` dispatches even while
        the bot is disconnected (the event is buffered and replayed when it RESUMEs).
        """
        data = self._command_data(command_line, options or {}, int(guild["id"]) if guild else None)
        return await self._send_interaction(
            APPLICATION_COMMAND, data, user, guild=guild, channel=channel, private=private, wait=wait
        )

    async def autocomplete(
        self,
        command_line: str,
        focused: str,
        partial: str,
        options: dict[str, Any] | None = None,
        *,
        user: dict[str, Any],
        guild: dict[str, Any] | None = None,
    ) -> FakeInteraction:
        data = self._command_data(
            command_line, {**(options or {}), focused: partial}, int(guild["id"]) if guild else None, focused
        )
        return await self._send_interaction(AUTOCOMPLETE, data, user, guild=guild)

    def find_component(self, custom_id_regex: str, *, user: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
        """The newest message with a button whose custom_id matches; returns (message, custom_id)."""
        pattern = re.compile(custom_id_regex)
        for message in reversed(list(self.messages.values())):
            for row in message.get("components", []):
                for component in row.get("components", []):
                    custom_id = component.get("custom_id")
                    if custom_id and pattern.search(custom_id):
                        return message, custom_id
        raise AssertionError(f"no message has a component matching {custom_id_regex!r}")

    def _location(self, message: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        channel = self.channels[int(message["channel_id"])]
        guild = self.guilds.get(int(channel["guild_id"])) if channel.get("guild_id") else None
        return guild, channel

    async def click(
        self, custom_id: str, *, user: dict[str, Any], message: dict[str, Any] | None = None
    ) -> FakeInteraction:
        """Press a button: `custom_id` exactly, on `message` (default: the newest message that has it)."""
        if message is None:
            message, custom_id = self.find_component("^" + re.escape(custom_id) + "$")
        components = [c for row in message.get("components", []) for c in row.get("components", [])]
        button = next((c for c in components if c.get("custom_id") == custom_id), None)
        if button is None:
            raise AssertionError(f"message {message['id']} has no component {custom_id!r}")
        if button.get("disabled"):
            raise AssertionError(f"button {custom_id!r} is disabled")
        guild, channel = self._location(message)
        private = channel["type"] == DM and int(channel["id"]) not in self.dm_channels.values()
        return await self._send_interaction(
            MESSAGE_COMPONENT,
            {"custom_id": custom_id, "component_type": button["type"]},
            user,
            guild=guild,
            channel=channel,
            private=private,
            message=message,
        )

    async def submit_modal(
        self, opened_by: FakeInteraction, values: dict[str, str] | str, *, user: dict[str, Any] | None = None
    ) -> FakeInteraction:
        """Submit the modal that `opened_by` answered with (callback type 9); `values` by custom_id, or one string."""
        modal = opened_by.modal
        if modal is None:
            raise AssertionError("that interaction did not open a modal")
        inputs = _modal_inputs(modal["components"])
        if isinstance(values, str):
            assert len(inputs) == 1, "a single value needs a modal with one input"
            values = {inputs[0]["custom_id"]: values}
        components = []
        for row in modal["components"]:
            if row["type"] == 18:
                inner = row["component"]
                components.append(
                    {
                        "type": 18,
                        "component": {
                            "type": inner["type"],
                            "custom_id": inner["custom_id"],
                            "value": values.get(inner["custom_id"], ""),
                        },
                    }
                )
            else:
                components.append(
                    {
                        "type": 1,
                        "components": [
                            {"type": c["type"], "custom_id": c["custom_id"], "value": values.get(c["custom_id"], "")}
                            for c in row["components"]
                        ],
                    }
                )
        for text_input in inputs:
            value = values.get(text_input["custom_id"], "")
            if len(value) > text_input.get("max_length", 4000):
                raise AssertionError(f"Discord's client would not accept {len(value)} characters in that input")
            if text_input.get("required", True) and len(value) < max(1, text_input.get("min_length", 0)):
                raise AssertionError("Discord's client would not submit an empty required input")
        message = self.messages.get(opened_by.message_id) if opened_by.message_id else None
        guild = self.guilds.get(opened_by.guild_id) if opened_by.guild_id else None
        channel = self.channels.get(opened_by.channel_id)
        private = opened_by.payload.get("context") == CONTEXT_PRIVATE_CHANNEL
        return await self._send_interaction(
            MODAL_SUBMIT,
            {"custom_id": modal["custom_id"], "components": components},
            user or opened_by.user,
            guild=guild,
            channel=channel,
            private=private,
            message=message,
        )

    async def dm_message(self, user: dict[str, Any], content: str) -> dict[str, Any]:
        """The user writes to the bot in their DM (MESSAGE_CREATE without guild_id)."""
        channel = self.dm_channel_for(user)
        message = self._new_message(int(channel["id"]), user, {"content": content}, [])
        await self.dispatch("MESSAGE_CREATE", self._public(message))
        return message

    async def channel_message(self, channel_id: int | str, user: dict[str, Any], content: str) -> dict[str, Any]:
        """The user writes in a guild channel or thread; content is blanked unless the bot has the intent."""
        channel = self.channels[int(channel_id)]
        guild_id = int(channel["guild_id"])
        message = self._new_message(int(channel_id), user, {"content": content}, [], guild_id=guild_id)
        payload = self._public(message)
        payload["member"] = {k: v for k, v in self._member_payload(user, guild_id).items() if k != "user"}
        session = self.session
        if session is not None and not session.intents & INTENT_MESSAGE_CONTENT:
            payload["content"] = ""  # Discord withholds content without the privileged intent
        await self.dispatch("MESSAGE_CREATE", payload)
        return message


# ---------------------------------------------------------------- validation (what real Discord rejects)


def _check_option_value(spec: dict[str, Any], value: Any, *, partial: bool) -> None:
    kind = spec["type"]
    expected: dict[int, type | tuple[type, ...]] = {3: str, 4: int, 5: bool, 10: (int, float)}
    if kind in expected and not isinstance(value, expected[kind]):
        raise AssertionError(f"option {spec['name']!r} takes {expected[kind]}, got {value!r}")
    if partial:
        return
    if spec.get("choices") and value not in [c["value"] for c in spec["choices"]]:
        raise AssertionError(f"option {spec['name']!r} must be one of its choices, got {value!r}")
    if kind in (4, 10):
        if "min_value" in spec and value < spec["min_value"]:
            raise AssertionError(f"option {spec['name']!r} below min_value")
        if "max_value" in spec and value > spec["max_value"]:
            raise AssertionError(f"option {spec['name']!r} above max_value")


def _validate_command(command: dict[str, Any], depth: int = 0) -> None:
    name = command.get("name", "")
    kind = command.get("type", 1)
    if not COMMAND_NAME.match(name) or (kind in (1, 2, 3) and depth == 0 and kind == 1 and name != name.lower()):
        raise invalid_form(f"invalid command name {name!r}")
    description = command.get("description", "")
    if kind == 1 and not 1 <= len(description) <= 100:
        raise invalid_form(f"/{name}: description must be 1-100 characters (got {len(description)})")
    options = command.get("options") or []
    if len(options) > 25:
        raise invalid_form(f"/{name}: more than 25 options")
    seen_optional = False
    names = set()
    for option in options:
        if option["name"] in names:
            raise invalid_form(f"/{name}: duplicate option {option['name']!r}")
        names.add(option["name"])
        if option["type"] in (1, 2):
            if depth >= 2 or (option["type"] == 2 and depth >= 1):
                raise invalid_form(f"/{name}: subcommands nested too deep")
            _validate_command({**option, "type": 1}, depth + 1)
            continue
        if not COMMAND_NAME.match(option["name"]) or option["name"] != option["name"].lower():
            raise invalid_form(f"/{name}: invalid option name {option['name']!r}")
        if not 1 <= len(option.get("description", "")) <= 100:
            raise invalid_form(f"/{name} {option['name']}: description must be 1-100 characters")
        if option.get("required"):
            if seen_optional:
                raise invalid_form(f"/{name}: required options must come before optional ones")
        else:
            seen_optional = True
        if len(option.get("choices") or []) > 25:
            raise invalid_form(f"/{name} {option['name']}: more than 25 choices")
        if option.get("choices") and option.get("autocomplete"):
            raise invalid_form(f"/{name} {option['name']}: choices and autocomplete are exclusive")


def _validate_embeds(embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > 10:
        raise invalid_form("more than 10 embeds")
    total = 0
    for embed in embeds:
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            text = embed.get(key) or ""
            if len(text) > limit:
                raise invalid_form(f"embed {key} longer than {limit}")
            total += len(text)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise invalid_form("more than 25 embed fields")
        for entry in fields:
            if not 1 <= len(entry.get("name", "")) <= 256:
                raise invalid_form("embed field name must be 1-256 characters")
            if not 1 <= len(entry.get("value", "")) <= 1024:
                raise invalid_form("embed field value must be 1-1024 characters")
            total += len(entry["name"]) + len(entry["value"])
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        if len(footer) > 2048 or len(author) > 256:
            raise invalid_form("embed footer/author too long")
        total += len(footer) + len(author)
    if total > 6000:
        raise invalid_form(f"embeds total {total} characters (limit 6000)")


def _validate_components(rows: list[dict[str, Any]]) -> None:
    if len(rows) > 5:
        raise invalid_form("more than 5 action rows")
    custom_ids = set()
    for row in rows:
        if row.get("type") != 1:
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            raise invalid_form("an action row holds 1-5 components")
        for child in children:
            custom_id = child.get("custom_id")
            if custom_id is not None:
                if len(custom_id) > 100:
                    raise invalid_form("custom_id longer than 100")
                if custom_id in custom_ids:
                    raise invalid_form(f"duplicate custom_id {custom_id!r}")
                custom_ids.add(custom_id)
            if len(child.get("label") or "") > 80:
                raise invalid_form("button label longer than 80")


def _validate_message(data: dict[str, Any], files: list[UploadedFile], *, edit: bool = False) -> None:
    content = data.get("content") or ""
    if len(content) > 2000:
        raise invalid_form(f"content longer than 2000 ({len(content)})")
    _validate_embeds(data.get("embeds") or [])
    _validate_components(data.get("components") or [])
    if len(files) > 10:
        raise invalid_form("more than 10 files")
    has_body = content or data.get("embeds") or files or data.get("components") or data.get("attachments")
    if not edit and not has_body and not data.get("poll"):
        raise DiscordError(400, 50006, "Cannot send an empty message")


def _modal_inputs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    inputs = []
    for row in rows:
        if row["type"] == 18:
            inputs.append(row["component"])
        else:
            inputs.extend(c for c in row.get("components", []) if c["type"] == 4)
    return inputs


def _validate_modal(data: dict[str, Any]) -> None:
    if not 1 <= len(data.get("title", "")) <= 45:
        raise invalid_form("modal title must be 1-45 characters")
    if not 1 <= len(data.get("custom_id", "")) <= 100:
        raise invalid_form("modal custom_id must be 1-100 characters")
    inputs = _modal_inputs(data.get("components") or [])
    if not 1 <= len(inputs) <= 5:
        raise invalid_form("a modal holds 1-5 inputs")
    for text_input in inputs:
        if text_input.get("max_length", 4000) > 4000:
            raise invalid_form("text input max_length above 4000")
        if len(text_input.get("label") or "") > 45:
            raise invalid_form("text input label longer than 45")
