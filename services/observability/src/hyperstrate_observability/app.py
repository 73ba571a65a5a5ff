"""Composition root of the observability service: wires ports to adapters.

At start-up: the inference consumer (batches), one audit consumer per admin stream, the
webhook dispatcher, and two jobs that run on one replica at a time (health probes every
`HEALTH_CHECK_INTERVAL_SECS`, the retention purge daily).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from litestar import Litestar
from nats.js import JetStreamContext

from hyperstrate_contracts import ROUTER, ConsumerSpec, EventRegistry
from hyperstrate_contracts.budgets import BUDGET_SPEND_SUBJECT, BudgetSpendRequest
from hyperstrate_contracts.observability import observability_registry
from hyperstrate_contracts.router import RouterConfigured, RouterDeleted
from hyperstrate_kit.bus import event_decoder, idempotent, provision_consumer, serve
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.security import OutboundUrlGuard
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app
from hyperstrate_kit.supervisor import dependency_unavailable
from hyperstrate_observability.api.controllers import CONTROLLERS
from hyperstrate_observability.application.health import HealthMonitor
from hyperstrate_observability.application.ports import HealthProbe, RegistrationSource
from hyperstrate_observability.application.queries import ObservabilityQueries
from hyperstrate_observability.application.webhooks import WebhookService
from hyperstrate_observability.infrastructure.audit import (
    audit_consumers,
    audit_handler,
    decode_audit_entry,
)
from hyperstrate_observability.infrastructure.batch_consumer import BatchConsumer
from hyperstrate_observability.infrastructure.catalog_source import (
    REGISTRATION_EVENTS,
    REGISTRATION_SUBJECTS,
    CatalogRegistrations,
)
from hyperstrate_observability.infrastructure.health_probe import ProviderHealthProbe
from hyperstrate_observability.infrastructure.ingestion import (
    InferenceIngestion,
    decode_inference,
    inference_consumer,
)
from hyperstrate_observability.infrastructure.leadership import run_as_leader
from hyperstrate_observability.infrastructure.log_writer import InferenceLogWriter
from hyperstrate_observability.infrastructure.ownership import (
    AUTH_OWNED_EVENTS,
    AUTH_OWNED_SUBJECT,
    ROUTER_OWNED_EVENTS,
    ROUTER_OWNED_SUBJECT,
    OwnedIds,
)
from hyperstrate_observability.infrastructure.projections import WebhookProjection
from hyperstrate_observability.infrastructure.repository import ObservabilityRepository
from hyperstrate_observability.infrastructure.retention import RetentionPurger
from hyperstrate_observability.infrastructure.secrets import secret_box
from hyperstrate_observability.infrastructure.webhook_dispatcher import (
    ClaimedDelivery,
    WebhookDispatcher,
)
from hyperstrate_observability.settings import ObservabilitySettings
from hyperstrate_providers import ClientPool, ProviderClient

__all__ = ["MIGRATIONS", "build_definition", "create_app", "definition"]

log = logging.getLogger(__name__)

MIGRATIONS = [MigrationSet("hyperstrate_observability.migrations", "observability_alembic_version")]
RETENTION_INTERVAL_SECONDS = 24 * 3600.0
ROUTER_WEBHOOK_EVENTS = EventRegistry([RouterConfigured, RouterDeleted])


def _dead_letter_publisher(
    js: JetStreamContext, prefix: str
) -> Callable[[ClaimedDelivery, str], Any]:
    async def publish(delivery: ClaimedDelivery, reason: str) -> None:
        await js.publish(
            f"dlq.webhooks.{prefix}",
            delivery.payload.encode("utf-8"),
            headers={
                "Hs-Original-Subject": delivery.event_type,
                "Hs-Webhook-Id": delivery.webhook_id,
                "Hs-Event-Id": delivery.event_id,
                "Hs-Deliveries": str(delivery.attempts),
                "Hs-Error": reason[:500],
            },
        )

    return publish


async def _every(seconds: float, job: Callable[[], Any], name: str) -> None:
    while True:
        try:
            await job()
        except Exception as exc:
            if not dependency_unavailable(exc):
                log.exception("%s failed; trying again in %gs", name, seconds)
            else:  # an outage, not a bug: no stack trace every round
                log.warning("%s: a dependency is away (%s); trying again in %gs",
                            name, type(exc).__name__, seconds)  # fmt: skip
        await asyncio.sleep(seconds)


def build_definition(
    registrations: RegistrationSource | None = None, probe: HealthProbe | None = None
) -> ServiceDefinition[ObservabilitySettings]:
    """The service; tests pass their own registration source and probe."""

    async def start(runtime: Runtime[ObservabilitySettings]) -> None:
        settings = runtime.settings
        database = runtime.require_database()
        store = runtime.require_event_store()
        js = runtime.require_js()
        repository = ObservabilityRepository()
        guard = OutboundUrlGuard(
            allow_private=settings.outbound_allow_private,
            allowed_hosts=settings.outbound_allowed_hosts,
        )
        box = secret_box(
            settings.secrets_key, settings.effective_jwt_secret, production=settings.is_production
        )
        owned = OwnedIds()
        await runtime.follow(AUTH_OWNED_SUBJECT, owned.apply, AUTH_OWNED_EVENTS)
        await runtime.follow(ROUTER_OWNED_SUBJECT, owned.apply, ROUTER_OWNED_EVENTS)
        queries = ObservabilityQueries(database, repository, owned)
        runtime.services["queries"] = queries
        assert runtime.nc is not None
        await serve(
            runtime.nc,
            BUDGET_SPEND_SUBJECT,
            BudgetSpendRequest,
            queries.budget_spend,
            queue="observability",
        )
        webhooks = WebhookService(database, store, repository, box, guard, owned)
        runtime.services["webhooks"] = webhooks

        # Webhook deliveries.
        http = httpx.AsyncClient(follow_redirects=False, trust_env=False)
        runtime.on_stop(http.aclose)
        dispatcher = WebhookDispatcher(
            database,
            box,
            guard,
            http,
            max_attempts=settings.webhook_max_attempts,
            backoff_seconds=settings.webhook_backoff_seconds,
            timeout=settings.webhook_timeout_secs,
            concurrency=settings.webhook_concurrency,
            on_dead=_dead_letter_publisher(js, settings.consumer_prefix),
        )
        runtime.services["webhook_dispatcher"] = dispatcher
        runtime.spawn(dispatcher.run, "webhook-dispatcher")

        # Inference logs, in batches.
        spec = inference_consumer(
            settings.consumer_prefix, settings.log_ack_wait_secs, settings.log_batch_size
        )
        await provision_consumer(js, spec)
        ingestion = InferenceIngestion(database, InferenceLogWriter(), dispatcher.wake)
        consumer = BatchConsumer(
            js, spec, decode_inference, ingestion.handle, batch_size=settings.log_batch_size
        )
        runtime.services["inference_consumer"] = consumer
        runtime.spawn(consumer.run, "inference-consumer")

        # Webhooks that follow a router's webhookUrl (in order: one message in flight).
        router_spec = ConsumerSpec(
            stream=ROUTER.name,
            durable=f"{settings.consumer_prefix}-router-webhooks",
            filter_subjects=tuple(ROUTER_WEBHOOK_EVENTS.types),
            description="observability: webhooks that follow routers' webhookUrl",
            max_deliver=10,
            backoff_seconds=(1.0, 5.0, 15.0, 30.0, 60.0),
            max_ack_pending=1,
        )
        await provision_consumer(js, router_spec)
        runtime.consume(
            router_spec,
            idempotent(database, router_spec.durable, webhooks.follow_router),
            event_decoder(ROUTER_WEBHOOK_EVENTS),
        )

        # Audit log.
        for audit_spec in audit_consumers(settings.consumer_prefix):
            await provision_consumer(js, audit_spec)
            runtime.consume(audit_spec, audit_handler(database), decode_audit_entry)

        # Health probes, on one replica at a time.
        source = registrations
        if source is None:
            assert runtime.nc is not None
            catalog = CatalogRegistrations(runtime.nc)
            await runtime.follow(
                REGISTRATION_SUBJECTS, catalog.apply, EventRegistry(REGISTRATION_EVENTS)
            )
            source = catalog
        health_probe = probe
        if health_probe is None:
            pool = ClientPool(
                connect_timeout=settings.health_probe_timeout_secs,
                read_timeout=settings.health_probe_timeout_secs,
            )
            runtime.on_stop(pool.aclose)
            health_probe = ProviderHealthProbe(ProviderClient(pool))
        monitor = HealthMonitor(
            database,
            store,
            source,
            health_probe,
            failure_threshold=settings.health_failure_threshold,
            probe_timeout=settings.health_probe_timeout_secs,
        )
        runtime.services["health_monitor"] = monitor
        runtime.spawn(
            lambda: run_as_leader(
                database,
                f"{settings.consumer_prefix}.health",
                lambda: _every(settings.health_check_interval_secs, monitor.run_round, "health"),
            ),
            "health-monitor",
        )

        # Retention, daily, on one replica at a time.
        purger = RetentionPurger(database, settings.log_retention_days)
        runtime.services["retention"] = purger

        async def purge() -> None:
            counts = await purger.purge(datetime.now(UTC))
            if any(counts.values()):
                log.info("retention purge: %s", counts)

        runtime.spawn(
            lambda: run_as_leader(
                database,
                f"{settings.consumer_prefix}.retention",
                lambda: _every(RETENTION_INTERVAL_SECONDS, purge, "retention purge"),
            ),
            "retention",
        )

    return ServiceDefinition(
        name="observability",
        settings_type=ObservabilitySettings,
        migrations=MIGRATIONS,
        registry=observability_registry(),
        projections=lambda: [WebhookProjection()],
        route_handlers=lambda _runtime: [*CONTROLLERS],
        on_start=[start],
        provides=["queries", "webhooks"],
    )


definition: ServiceDefinition[ObservabilitySettings] = build_definition()


def create_app(
    settings: ObservabilitySettings,
    registrations: RegistrationSource | None = None,
    probe: HealthProbe | None = None,
) -> Litestar:
    """The observability service's ASGI app."""
    chosen = (
        definition
        if registrations is None and probe is None
        else build_definition(registrations, probe)
    )
    app: Litestar = create_service_app(chosen, settings)
    return app
