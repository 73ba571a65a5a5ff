"""Wiring shared by the catalog API and its worker: ports to adapters, over a runtime."""

from __future__ import annotations

from typing import Any

from hyperstrate_catalog.application.conversations import ConversationService
from hyperstrate_catalog.application.inference import InferenceService
from hyperstrate_catalog.application.jobs import JobService
from hyperstrate_catalog.application.mcp import McpServerService
from hyperstrate_catalog.application.registrations import RegistrationService
from hyperstrate_catalog.infrastructure.inference_events import InferenceEventPublisher
from hyperstrate_catalog.infrastructure.job_queue import JetStreamJobQueue
from hyperstrate_catalog.infrastructure.mcp_probe import SdkMcpProbe
from hyperstrate_catalog.infrastructure.outbound import BaseUrlGuard, GuardedUpstream
from hyperstrate_catalog.infrastructure.projections import CatalogProjection
from hyperstrate_catalog.infrastructure.repository import CatalogRepository
from hyperstrate_catalog.infrastructure.vault import vault_from_settings
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_contracts import EventRegistry
from hyperstrate_contracts.catalog import catalog_registry
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.eventstore import Projection
from hyperstrate_kit.security import OutboundUrlGuard
from hyperstrate_kit.service import Runtime
from hyperstrate_providers import ClientPool, ProviderClient

__all__ = ["CATALOG_MIGRATIONS", "build_services", "catalog_event_registry", "projections"]

CATALOG_MIGRATIONS = MigrationSet("hyperstrate_catalog.migrations", "catalog_alembic_version")


def catalog_event_registry() -> EventRegistry:
    """The catalog's own events (its event store and relay)."""
    return catalog_registry()


def projections() -> list[Projection]:
    """The catalog's read models."""
    return [CatalogProjection()]


def build_services(runtime: Runtime[CatalogSettings]) -> dict[str, Any]:
    """The application services over the runtime's database, event store and NATS.

    Also starts the inference event publisher; the HTTP pools close when the runtime stops.
    """
    settings = runtime.settings
    database, store = runtime.require_database(), runtime.require_event_store()
    repository = CatalogRepository()
    vault = vault_from_settings(
        settings.secrets_key, settings.effective_jwt_secret, production=settings.is_production
    )
    guard = OutboundUrlGuard(
        allow_private=settings.outbound_allow_private,
        allowed_hosts=settings.outbound_allowed_hosts,
    )
    base_urls = BaseUrlGuard(guard)
    pool = ClientPool(read_timeout=settings.upstream_read_timeout_seconds)
    events = InferenceEventPublisher(runtime.require_js())
    runtime.spawn(events.run, "inference-events")
    runtime.on_stop(pool.aclose)
    registrations = RegistrationService(
        database,
        store,
        repository,
        vault,
        base_urls,
        upstream_read_timeout=settings.upstream_read_timeout_seconds,
    )
    inference = InferenceService(
        registrations, GuardedUpstream(ProviderClient(pool), base_urls), events
    )
    jobs = JobService(
        database, store, repository, inference, vault, JetStreamJobQueue(runtime.require_js())
    )
    return {
        "registrations": registrations,
        "inference": inference,
        "jobs": jobs,
        "conversations": ConversationService(database, store, repository, inference),
        "mcp_servers": McpServerService(database, store, repository, vault, SdkMcpProbe(guard)),
        "url_guard": guard,
        "vault": vault,
        "repository": repository,
        "inference_events": events,
    }
