"""`mockinterview worker`: grading workers (plus /metrics and /healthz) against the configured database.

Run as many as you like, on as many machines as you like, against one PostgreSQL: they share the durable
grading queue (leases, `SKIP LOCKED`), so each answer is graded once. Feedback delivery stays with the bot,
which sees the graded attempts and delivers them. On PostgreSQL a worker is woken by LISTEN/NOTIFY as soon as an
answer is queued anywhere (`bot.storage.wakeups`); polling (`MOCKINTERVIEW_QUEUE_POLL_INTERVAL_S`) is the backstop.
SIGTERM stops taking work, lets the jobs in hand finish for up to `MOCKINTERVIEW_SHUTDOWN_TIMEOUT_S`, and hands the
rest back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from bot.cli._app import app, friendly_errors, load_settings
from bot.cli._loop import run_event_loop
from bot.core.models import Attempt, Rubric
from bot.core.ports import closing_grader
from bot.logging_setup import bind_log_context, log_context
from bot.pipeline import MAX_WORKER_ID_LENGTH, GradingWorker, RubricFor, checked_worker_id, default_worker_id
from bot.wiring import build_bank, build_grader, build_service, open_storage

if TYPE_CHECKING:
    from bot.core.question_bank import QuestionBank
    from bot.core.service import InterviewService
    from bot.settings import Settings

log = logging.getLogger(__name__)

GraderOption = Literal["offline", "llm"]


def rubric_lookup(service: InterviewService) -> RubricFor:
    """`service.rubric_for`, tagging the job's log lines with its ids (each job runs in its own task)."""

    async def rubric_for(attempt: Attempt) -> Rubric:
        bind_log_context(
            attempt_id=attempt.id, user_id=attempt.user_id, session_id=attempt.session_id, guild_id=attempt.guild_id
        )
        return await service.rubric_for(attempt)

    return rubric_for


async def run_workers(
    settings: Settings,
    bank: QuestionBank,
    *,
    grader_choice: str | None,
    processes: int,
    concurrency: int,
    worker_id: str | None,
    until_idle: bool,
    metrics_port: int,
) -> int:
    """Grade until SIGTERM/SIGINT (or until the queue is idle); returns how many answers this process graded."""
    from bot.grading.warmup import warming_up
    from bot.ops.metrics import METRICS, MeteredGrader
    from bot.ops.server import HealthCheck, serve_ops
    from bot.ops.shutdown import ShutdownSignal, drain_workers, release_leases
    from bot.storage.engine import not_a_database_outage
    from bot.storage.wakeups import wake_ups_for

    # Loops after the first are named `<id>/<n>`: the longest name must fit the lease owner column too.
    loop_suffix = "" if processes == 1 else f"/{processes - 1}"
    base_id = worker_id or default_worker_id(max_length=MAX_WORKER_ID_LENGTH - len(loop_suffix))
    checked_worker_id(base_id + loop_suffix)  # before anything starts, not in every loop's first claim
    async with (
        closing_grader(MeteredGrader(build_grader(settings, grader_choice), METRICS)) as grader,
        open_storage(settings) as storage,
        warming_up(grader),  # the first answer that needs the offline model doesn't wait ~0.4 s for its load
        ShutdownSignal() as stop,
    ):
        service = build_service(bank, storage)
        workers = [
            GradingWorker(
                storage.queue,
                grader,
                rubric_lookup(service),
                worker_id=base_id if processes == 1 else f"{base_id}/{n}",
                concurrency=concurrency,
                lease_seconds=settings.grading_lease_s,
                poll_interval=settings.queue_poll_interval_s,
                item_specific=not_a_database_outage,
            )
            for n in range(processes)
        ]
        wake_ups = wake_ups_for(storage.engine)
        for w in workers:
            w.listen_to(wake_ups)
        health = HealthCheck(
            storage.engine,
            storage.queue.counts,
            extra=lambda: {"role": "worker", "workers": [w.worker_id for w in workers], "grader": grader.name},
        )
        async with wake_ups, serve_ops(metrics_port, health, host=settings.metrics_host):
            with log_context(worker_id=base_id):
                tasks = [
                    asyncio.create_task(w.run(until_idle=until_idle), name=f"grading-{w.worker_id}") for w in workers
                ]
                log.info("grading with %s: %d worker(s) x %d jobs", grader.name, processes, concurrency)
                stopper = asyncio.create_task(stop.wait(), name="shutdown-signal")
                # Every loop ends (until_idle) or one crashes, or a signal arrives: then drain.
                finished = asyncio.create_task(asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION))
                await asyncio.wait([finished, stopper], return_when=asyncio.FIRST_COMPLETED)
                stopper.cancel()
                finished.cancel()
                released = await drain_workers(
                    list(zip(workers, tasks, strict=True)),
                    settings.shutdown_timeout_s,
                    release=lambda wid: release_leases(storage.engine, wid),
                )
                graded = sum(w.graded for w in workers)
                log.info("worker stopped: %d graded, %d released to the queue", graded, sum(released.values()))
    return graded


@app.command("worker")
@friendly_errors
def worker(
    grader: Annotated[
        str | None, typer.Option(help="offline | llm (default: MOCKINTERVIEW_GRADER, as the bot uses).")
    ] = None,
    processes: Annotated[int, typer.Option(min=1, max=64, help="Grading loops in this process.")] = 1,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, max=256, help="Jobs graded at once per loop (default MOCKINTERVIEW_GRADING_CONCURRENCY)."),
    ] = None,
    worker_id: Annotated[str | None, typer.Option(help="Lease owner name (default: host:pid).")] = None,
    until_idle: Annotated[bool, typer.Option("--until-idle", help="Exit once the queue has nothing left.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Serve /metrics and /healthz here (default MOCKINTERVIEW_METRICS_PORT)."),
    ] = None,
) -> None:
    """Grade queued answers from the shared database until stopped (SIGTERM finishes or releases the jobs in hand)."""
    settings = load_settings()
    if grader not in (None, "offline", "llm"):
        raise typer.BadParameter("must be offline or llm", param_hint="--grader")
    bank = build_bank(settings)
    run_event_loop(
        run_workers(
            settings,
            bank,
            grader_choice=grader,
            processes=processes,
            concurrency=concurrency or settings.grading_concurrency,
            worker_id=worker_id,
            until_idle=until_idle,
            metrics_port=settings.metrics_port if metrics_port is None else metrics_port,
        )
    )
