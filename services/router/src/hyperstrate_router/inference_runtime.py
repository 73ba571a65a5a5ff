"""Wiring of the inference hot path into the router process (composition root part)."""

from __future__ import annotations

from pathlib import Path

from hyperstrate_contracts.catalog import catalog_registry
from hyperstrate_contracts.observability import RegistrationHealthChanged, observability_registry
from hyperstrate_contracts.prompts import prompts_registry
from hyperstrate_contracts.router import PAYLOAD_BUCKET, router_registry
from hyperstrate_kit.payloads import PayloadStore
from hyperstrate_kit.service import Runtime
from hyperstrate_providers import ClientPool, ProviderClient
from hyperstrate_router.application.inference.health_probes import ChatHealthProbes
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger
from hyperstrate_router.application.inference.pipeline import InferencePipeline
from hyperstrate_router.application.inference.state import PromptTable, RouterTable
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector
from hyperstrate_router.infrastructure.inference.backends import inference_backends
from hyperstrate_router.infrastructure.inference.catalog_client import CatalogClient
from hyperstrate_router.infrastructure.inference.ledger_sync import LedgerSync
from hyperstrate_router.infrastructure.inference.publisher import InferenceEventPublisher
from hyperstrate_router.infrastructure.inference.worker import InferenceWorker
from hyperstrate_router.settings import RouterSettings

__all__ = ["start_inference"]


async def start_inference(runtime: Runtime[RouterSettings]) -> None:
    """Follow the streams the hot path reads, then join the inference queue group."""
    assert runtime.nc is not None
    settings = runtime.settings
    routers, prompts = RouterTable(), PromptTable()
    catalog = CatalogClient(runtime.nc, timeout=settings.request_timeout_seconds)
    pool = ClientPool()
    runtime.on_stop(pool.aclose)
    publisher = InferenceEventPublisher(
        runtime.nc, Path(settings.data_dir) / "router" / "inference-events.spill"
    )
    runtime.spawn(publisher.run, "inference-events")
    runtime.on_stop(publisher.flush)
    backends = inference_backends(settings)  # memory, or Redis by CACHE_/RATE_LIMIT_BACKEND
    runtime.on_stop(backends.aclose)  # closers run in reverse: after the worker has drained
    latency = LatencyTracker()
    providers = ProviderClient(pool, max_retry_after_seconds=settings.upstream_retry_after_max_secs)
    pipeline = InferencePipeline(
        routers, prompts, catalog, providers, TargetSelector(latency), latency,
        backends.rate_limiter, backends.ledger, backends.cache, publisher,
        payload_max_bytes=settings.payload_max_bytes,
    )  # fmt: skip

    def on_health(event: object) -> None:
        if isinstance(event, RegistrationHealthChanged):
            pipeline.inference.health.report(event.aggregate_id, event.healthy)

    # `health_check` with `probe: "chat"`: a one-token chat per target, off the hot path.
    probes = ChatHealthProbes(routers, catalog, ProviderClient(pool), pipeline.inference.health)
    runtime.spawn(probes.run, "health-probes")

    await runtime.follow("router.>", routers.apply, router_registry())
    await runtime.follow("prompts.>", prompts.apply, prompts_registry())
    await runtime.follow("catalog.registration.>", catalog.apply, catalog_registry())
    await runtime.follow("observability.>", on_health, observability_registry())
    payloads = PayloadStore(runtime.nc, PAYLOAD_BUCKET, replicas=settings.nats_stream_replicas)
    worker = InferenceWorker(runtime.nc, pipeline, payloads)
    runtime.on_stop(worker.stop)
    if isinstance(backends.ledger, MemoryBudgetLedger):  # Redis keeps spend across restarts
        sync = LedgerSync(runtime.nc, backends.ledger, settings.budget_restore_timeout_secs)
        await sync.run_before(runtime, worker.start)
    else:
        await worker.start()
    runtime.services["inference_pipeline"] = pipeline
    runtime.services["inference_publisher"] = publisher
