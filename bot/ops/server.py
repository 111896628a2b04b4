"""`/metrics` (Prometheus text) and `/healthz` (JSON) over aiohttp, for operators and orchestrators.

`/healthz` answers 200 when the database answers `SELECT 1` within a timeout, else 503, and reports the grading
queue's depth by status. A scrape of `/metrics` refreshes the queue-depth gauge first (bounded by the same
timeout), so the gauge is as fresh as the scrape without a polling task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.errors import UserFacingError
from bot.ops.metrics import CONTENT_TYPE_LATEST, METRICS, Metrics

log = logging.getLogger(__name__)

QueueCounts = Callable[[], Awaitable[Mapping[str, int]]]
CHECK_TIMEOUT_S = 3.0


@dataclass
class HealthReport:
    ok: bool
    database: str  # "ok" or what went wrong (the error's type, never its connection string)
    queue: dict[str, int] = field(default_factory=dict)
    checked_in_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "unavailable",
            "database": self.database,
            "queue": self.queue,
            "queue_depth": self.queue.get("queued", 0) + self.queue.get("leased", 0),
            "checked_in_ms": round(self.checked_in_ms, 1),
            **self.extra,
        }


class HealthCheck:
    """Database reachability and queue depth; `extra()` may add process facts (worker id, shards...)."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue_counts: QueueCounts | None = None,
        *,
        timeout_s: float = CHECK_TIMEOUT_S,
        extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.queue_counts = queue_counts
        self.timeout_s = timeout_s
        self.extra = extra

    async def _ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def __call__(self) -> HealthReport:
        started = time.perf_counter()
        database, queue = "ok", {}
        try:
            await asyncio.wait_for(self._ping(), self.timeout_s)
            if self.queue_counts is not None:
                queue = dict(await asyncio.wait_for(self.queue_counts(), self.timeout_s))
        except TimeoutError:
            database = "timeout"
        except Exception as error:  # reported, not raised: an unhealthy answer is the point
            database = f"error: {type(error).__name__}"
            log.warning("health check: database unreachable (%s)", type(error).__name__)
        return HealthReport(
            ok=database == "ok",
            database=database,
            queue=queue,
            checked_in_ms=(time.perf_counter() - started) * 1000,
            extra=self.extra() if self.extra else {},
        )


class OpsServer:
    """The aiohttp app serving `/metrics` and `/healthz`; `start()` binds and returns the port (0 picks one)."""

    def __init__(
        self,
        metrics: Metrics = METRICS,
        health: Callable[[], Awaitable[HealthReport]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.metrics = metrics
        self.health = health
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        return app

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.health is not None:
            report = await self.health()
            if report.ok:
                self.metrics.set_queue_depth(report.queue)
        body = self.metrics.render()
        response = web.Response(body=body)
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def _healthz(self, request: web.Request) -> web.Response:
        if self.health is None:
            return web.json_response({"status": "ok"})
        report = await self.health()
        return web.json_response(report.as_json(), status=200 if report.ok else 503)

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:  # the port is taken (another process, a second worker), or no such address
            await self.close()
            raise UserFacingError(
                f"Can't serve /metrics and /healthz on {self.host}:{self.port}: {error.strerror or error}. Set "
                "MOCKINTERVIEW_METRICS_PORT (or `mockinterview worker --metrics-port`) to a free port, or 0 to turn "
                "them off; MOCKINTERVIEW_METRICS_HOST is the address."
            ) from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("metrics and health on http://%s:%d (/metrics, /healthz)", self.host, self.port)
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@asynccontextmanager
async def serve_ops(
    port: int,
    health: Callable[[], Awaitable[HealthReport]] | None,
    *,
    host: str = "127.0.0.1",
    metrics: Metrics = METRICS,
) -> AsyncIterator[OpsServer | None]:
    """Run the ops server for the block when `port` is set (`metrics_port`; 0 = off, yields None)."""
    if not port:
        yield None
        return
    server = OpsServer(metrics, health, host=host, port=port)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
