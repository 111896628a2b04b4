"""Study-server fixtures: the storage tests' two-engine databases, and the Discord harness with per-member
permissions and attachment uploads (a subclass of the loopback Discord; the harness itself is reused as is)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from tests.discord_app.conftest import bank, clock, grader, launch, make_settings  # noqa: F401 - reused harness
from tests.fakes.discord_server import APPLICATION_COMMAND, FakeDiscord, FakeInteraction
from tests.storage.conftest import (  # noqa: F401 - re-exported fixtures
    db_url,
    empty_db_url,
    engine,
    postgres_template,
    sqlite_template,
)

PERM_MANAGE_GUILD = 1 << 5


class StudyFakeDiscord(FakeDiscord):
    """The loopback Discord plus what study tests need: per-member permissions, and slash commands with an
    attachment option (resolved data pointing at a local file host, as Discord's CDN would be)."""

    def __init__(self) -> None:
        super().__init__()
        self.extra_permissions: dict[int, int] = {}
        self.files_base = ""
        self.files: dict[str, bytes] = {}

    def grant(self, user: dict[str, Any], permissions: int = PERM_MANAGE_GUILD) -> None:
        self.extra_permissions[int(user["id"])] = permissions

    def _context(
        self, user: dict[str, Any], guild: dict[str, Any] | None, channel: dict[str, Any] | None, private: bool
    ) -> dict[str, Any]:
        payload = super()._context(user, guild, channel, private)
        extra = self.extra_permissions.get(int(user["id"]), 0)
        if guild is not None and extra:
            payload["member"]["permissions"] = str(int(payload["member"]["permissions"]) | extra)
        return payload

    async def slash_with_file(
        self,
        command_line: str,
        option: str,
        filename: str,
        data: bytes,
        *,
        user: dict[str, Any],
        guild: dict[str, Any],
        size: int | None = None,
    ) -> FakeInteraction:
        attachment_id = str(self.snowflake())
        key = secrets.token_hex(8)
        self.files[key] = data
        payload = self._command_data(command_line, {option: attachment_id}, int(guild["id"]))
        payload["resolved"] = {
            "attachments": {
                attachment_id: {
                    "id": attachment_id,
                    "filename": filename,
                    "size": len(data) if size is None else size,
                    "url": f"{self.files_base}/{key}/{filename}",
                    "proxy_url": f"{self.files_base}/{key}/{filename}",
                    "content_type": "application/yaml",
                }
            }
        }
        return await self._send_interaction(APPLICATION_COMMAND, payload, user, guild=guild)


@pytest.fixture
async def fake() -> AsyncIterator[StudyFakeDiscord]:
    """The harness's `fake`, as a `StudyFakeDiscord` with a file host; the same end-of-test checks."""

    async def serve(request: web.Request) -> web.Response:
        data = server.files.get(request.match_info["key"])
        return web.Response(status=404) if data is None else web.Response(body=data)

    app = web.Application()
    app.router.add_get("/files/{key}/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with StudyFakeDiscord() as server:
            server.files_base = f"http://127.0.0.1:{port}/files"
            server.patch_discord()
            yield server
            for call in server.calls:
                body = call.body if isinstance(call.body, dict) else None
                message = (body.get("data") if body and "data" in body and "type" in body else body) or {}
                if isinstance(message, dict) and (message.get("content") or message.get("embeds")):
                    assert message.get("allowed_mentions") == {"parse": []}, f"{call.method} {call.path} may ping"
            assert not server.unhandled, [f"{c.method} {c.path}" for c in server.unhandled]
    finally:
        with contextlib.suppress(Exception):
            await runner.cleanup()
