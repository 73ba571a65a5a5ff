"""The catalog's job worker: `python -m hyperstrate_catalog.worker`.

Runs async inference jobs from the JOBS work queue until SIGTERM (or Ctrl-C), then drains:
stops fetching, lets the jobs in hand finish (bounded), and exits. It serves no HTTP. Jobs run
`JOB_CONCURRENCY` at a time, each on a pull subscription that fetches one message at a time,
so a message is never held unstarted while its ack deadline runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Sequence

import msgspec
from nats.aio.msg import Msg

from hyperstrate_catalog.application.jobs import JobRunner
from hyperstrate_catalog.infrastructure.job_locks import AdvisoryJobLocks
from hyperstrate_catalog.infrastructure.outbound import PinnedCallbackSender
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_catalog.wiring import (
    CATALOG_MIGRATIONS,
    build_services,
    catalog_event_registry,
    projections,
)
from hyperstrate_contracts import ConsumerSpec
from hyperstrate_contracts.catalog import JOBS_WORKER, JobToRun
from hyperstrate_kit.bus import ConsumerRunner
from hyperstrate_kit.logs import configure_logging
from hyperstrate_kit.service import Runtime, ServiceDefinition
from hyperstrate_kit.settings import SettingsError, load_settings
from hyperstrate_kit.supervisor import SupervisedTask
from hyperstrate_kit.telemetry import configure_tracing

__all__ = ["jobs_consumer", "main", "running_worker"]

log = logging.getLogger(__name__)

DRAIN_SECONDS = 60.0


def jobs_consumer(settings: CatalogSettings) -> ConsumerSpec:
    """The worker's durable consumer, with the operator's ack deadline and delivery bound."""
    return msgspec.structs.replace(
        JOBS_WORKER,
        ack_wait_seconds=settings.job_ack_wait_seconds,
        max_deliver=settings.job_max_deliver,
        max_ack_pending=max(settings.job_concurrency * 4, 16),
    )


def _decode(msg: Msg) -> JobToRun:
    return msgspec.json.decode(msg.data, type=JobToRun)


def _worker_definition(settings: CatalogSettings) -> ServiceDefinition[CatalogSettings]:
    return ServiceDefinition(
        name="catalog-worker",
        settings_type=CatalogSettings,
        migrations=[CATALOG_MIGRATIONS],
        registry=catalog_event_registry(),
        projections=projections,
        consumers=[jobs_consumer(settings)],
    )


@contextlib.asynccontextmanager
async def running_worker(settings: CatalogSettings) -> AsyncIterator[Runtime[CatalogSettings]]:
    """Start the worker (database, NATS, consumers) for the block; drain it on exit."""
    runtime = Runtime(_worker_definition(settings), settings)
    runners: list[ConsumerRunner[JobToRun]] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        await runtime.start()
        services = build_services(runtime)
        runtime.services.update(services)
        callbacks = PinnedCallbackSender(services["url_guard"], timeout=10.0)
        runtime.on_stop(callbacks.aclose)
        spec = jobs_consumer(settings)
        job_runner = JobRunner(
            runtime.require_database(),
            runtime.require_event_store(),
            services["repository"],
            services["inference"],
            services["vault"],
            callbacks,
            AdvisoryJobLocks(runtime.require_database()),
            max_deliver=spec.max_deliver,
            callback_max_attempts=settings.callback_max_attempts,
            callback_backoff=settings.callback_backoff_seconds,
        )
        runtime.services["job_runner"] = job_runner

        async def handle(job: JobToRun, msg: Msg) -> None:
            await job_runner.handle(job, msg.metadata.num_delivered)

        for index in range(settings.job_concurrency):
            runner = ConsumerRunner(runtime.require_js(), spec, handle, _decode, batch_size=1)
            runners.append(runner)
            # Supervised: a runner whose NATS or database went away starts again.
            supervised = SupervisedTask(f"jobs-runner-{index}", runner.run)
            tasks.append(asyncio.create_task(supervised.run(), name=supervised.name))
        log.info("catalog worker running %d job runner(s)", len(runners))
        yield runtime
    finally:
        await _drain(runners, tasks)
        await runtime.stop()


async def _drain(
    runners: Sequence[ConsumerRunner[JobToRun]], tasks: Sequence[asyncio.Task[None]]
) -> None:
    for runner in runners:
        await runner.stop()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
    for task in pending:  # a job still running: it is redelivered to another worker
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    log.info("catalog worker drained (%d job(s) cut short)", len(pending))


async def _run(settings: CatalogSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with running_worker(settings):
        await stop.wait()
        log.info("catalog worker stopping: draining")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the worker until SIGTERM."""
    try:
        settings = load_settings(CatalogSettings)
    except SettingsError as exc:
        print(f"hyperstrate-catalog-worker: {exc}", file=sys.stderr)
        return 2
    configure_logging("catalog-worker", level=settings.log_level, log_format=settings.log_format)
    configure_tracing(
        "catalog-worker",
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        sampler_ratio=settings.otel_traces_sampler_ratio,
    )
    try:
        import uvloop

        uvloop.run(_run(settings))
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(_run(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
