"""The ops server over real HTTP on 127.0.0.1: /metrics in Prometheus format, /healthz with DB and queue."""

from __future__ import annotations

import json
import socket
from contextlib import asynccontextmanager

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from bot.core.models import AnswerSubmission
from bot.ops.metrics import Metrics
from bot.ops.server import HealthCheck, OpsServer, serve_ops
from bot.storage.attempts import SqlAttemptRepository
from bot.storage.engine import create_engine
from bot.storage.migrate import upgrade_async
from bot.storage.queue import SqlGradingQueue


@pytest.fixture
async def engine(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ops.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as r:
        return r.status, r.headers["Content-Type"], await r.text()


async def test_metrics_endpoint_serves_prometheus_text_with_a_fresh_queue_gauge(engine):
    await SqlAttemptRepository(engine).submit_answers(
        [AnswerSubmission(user_id=1, question_id="q.a", topic="q", answer=f"a{i}") for i in range(3)]
    )
    queue = SqlGradingQueue(engine)
    await queue.claim_jobs("w1", 1, 60)
    m = Metrics(CollectorRegistry())
    m.count_interaction("command")
    server = OpsServer(m, HealthCheck(engine, queue.counts), host="127.0.0.1", port=0)
    port = await server.start()
    try:
        status, content_type, body = await get(f"http://127.0.0.1:{port}/metrics")
    finally:
        await server.close()
    assert status == 200 and content_type.startswith("text/plain")
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    assert values[("mockinterview_interactions_total", (("kind", "command"),))] == 1
    assert values[("mockinterview_grading_queue_jobs", (("status", "queued"),))] == 2
    assert values[("mockinterview_grading_queue_jobs", (("status", "leased"),))] == 1


async def test_healthz_reports_database_and_queue_depth(engine):
    await SqlAttemptRepository(engine).submit_answer(
        AnswerSubmission(user_id=1, question_id="q.a", topic="q", answer="x")
    )
    health = HealthCheck(engine, SqlGradingQueue(engine).counts, extra=lambda: {"role": "test"})
    async with _server(health) as port:
        status, content_type, body = await get(f"http://127.0.0.1:{port}/healthz")
    assert status == 200 and content_type.startswith("application/json")
    report = json.loads(body)
    assert report["status"] == "ok" and report["database"] == "ok"
    assert report["queue"] == {"queued": 1} and report["queue_depth"] == 1
    assert report["role"] == "test"


async def test_healthz_is_503_when_the_database_is_unreachable():
    # Nothing listens on port 1 of the loopback interface: the connection is refused at once.
    dead = create_engine("postgresql+asyncpg://nobody:pw-not-shown@127.0.0.1:1/none")
    try:
        health = HealthCheck(dead, timeout_s=5)
        async with _server(health) as port:
            status, _, body = await get(f"http://127.0.0.1:{port}/healthz")
    finally:
        await dead.dispose()
    assert status == 503
    assert '"status": "unavailable"' in body and '"database": "error: ' in body
    assert "pw-not-shown" not in body  # the URL (and its password) never leaks into the answer


async def test_serve_ops_with_port_zero_is_off():
    async with serve_ops(0, None) as server:
        assert server is None


async def test_serve_ops_binds_the_configured_port_and_closes_it():
    port = free_port()
    async with serve_ops(port, None, metrics=Metrics(CollectorRegistry())) as server:
        assert server is not None and server.port == port
        status, _, body = await get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(f"http://127.0.0.1:{port}/healthz")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _server(health):
    server = OpsServer(Metrics(CollectorRegistry()), health, host="127.0.0.1", port=0)
    port = await server.start()
    try:
        yield port
    finally:
        await server.close()


async def test_a_port_in_use_is_a_message_naming_the_address_and_the_setting():
    from bot.core.errors import UserFacingError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(UserFacingError) as info:
            async with serve_ops(port, None, metrics=Metrics(CollectorRegistry())):
                pytest.fail("served on a port in use")
    message = info.value.message
    assert f"127.0.0.1:{port}" in message and "in use" in message
    assert "MOCKINTERVIEW_METRICS_PORT" in message and "--metrics-port" in message
    # Nothing was left open: the port serves once it is free.
    async with serve_ops(port, None, metrics=Metrics(CollectorRegistry())) as server:
        assert server is not None and server.port == port


async def test_an_unknown_metrics_host_is_a_message_too():
    from bot.core.errors import UserFacingError

    server = OpsServer(Metrics(CollectorRegistry()), None, host="no-such-host.invalid", port=free_port())
    with pytest.raises(UserFacingError, match=r"no-such-host\.invalid:\d+: .*MOCKINTERVIEW_METRICS_HOST"):
        await server.start()


def test_worker_with_its_metrics_port_in_use_says_so_in_one_line(cli_env):
    from tests.helpers import run_cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = run_cli(["worker", "--until-idle", "--grader", "offline", "--metrics-port", str(port)], cli_env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"Can't serve /metrics and /healthz on 127.0.0.1:{port}: " in result.stderr.splitlines()[-1]
