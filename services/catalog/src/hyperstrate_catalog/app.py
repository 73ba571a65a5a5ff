"""Composition root of the catalog service and its worker: wires ports to adapters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Litestar

from hyperstrate_catalog.api.controllers import CONTROLLERS
from hyperstrate_catalog.application.conversations import ConversationService
from hyperstrate_catalog.application.inference import InferenceService
from hyperstrate_catalog.application.jobs import JobService
from hyperstrate_catalog.application.mcp import McpServerService
from hyperstrate_catalog.application.registrations import RegistrationService
from hyperstrate_catalog.infrastructure.inference_events import InferenceEventPublisher
from hyperstrate_catalog.infrastructure.job_queue import JetStreamJobQueue
from hyperstrate_catalog.infrastructure.mcp_probe import SdkMcpProbe
from hyperstrate_catalog.infrastructure.outbound import GuardedUpstream
from hyperstrate_catalog.infrastructure.projections import CatalogProjection
from hyperstrate_catalog.infrastructure.repository import CatalogRepository
from hyperstrate_catalog.infrastructure.vault import vault_from_settings
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_contracts import EventRegistry
from hyperstrate_contracts.auth import auth_registry
from hyperstrate_contracts.catalog import (
    CREDENTIALS_SUBJECT,
    MCP_CREDENTIALS_SUBJECT,
    REGISTRATIONS_SUBJECT,
    CredentialsRequest,
    McpServerCredentialsRequest,
    RegistrationList,
    RegistrationsRequest,
    catalog_registry,
)
from hyperstrate_kit.bus import RemoteError, serve
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.errors import NotFoundError
from hyperstrate_kit.keys import KeyDirectory
from hyperstrate_kit.security import OutboundUrlGuard
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app
from hyperstrate_providers import ClientPool, ProviderClient

__all__ = [
    "CATALOG_MIGRATIONS",
    "build_services",
    "catalog_event_registry",
    "create_app",
    "definition",
]

CATALOG_MIGRATIONS = MigrationSet("hyperstrate_catalog.migrations", "catalog_alembic_version")
R = TypeVar("R", bound=msgspec.Struct)
Q = TypeVar("Q", bound=msgspec.Struct)


def catalog_event_registry() -> EventRegistry:
    """The catalog's own events (its event store and relay)."""
    return catalog_registry()


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
    pool = ClientPool(read_timeout=settings.upstream_read_timeout_seconds)
    events = InferenceEventPublisher(runtime.require_js())
    runtime.spawn(events.run(), "inference-events")
    runtime.on_stop(pool.aclose)
    registrations = RegistrationService(
        database,
        store,
        repository,
        vault,
        upstream_read_timeout=settings.upstream_read_timeout_seconds,
    )
    inference = InferenceService(
        registrations, GuardedUpstream(ProviderClient(pool), guard), events
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


def _answer(
    handler: Callable[[Q], Awaitable[R]],
) -> Callable[[Q], Awaitable[R]]:
    """A request handler whose not-found answers as the `not_found` error reply."""

    async def answer(request: Q) -> R:
        try:
            return await handler(request)
        except NotFoundError as exc:
            raise RemoteError("not_found", exc.message) from None

    return answer


async def _start(runtime: Runtime[CatalogSettings]) -> None:
    services = build_services(runtime)
    runtime.services.update(services)
    registrations: RegistrationService = services["registrations"]
    mcp_servers: McpServerService = services["mcp_servers"]
    jobs: JobService = services["jobs"]
    runtime.spawn(
        jobs.sweep_forever(runtime.settings.job_dispatch_sweep_seconds), "job-dispatch-sweeper"
    )

    directory = KeyDirectory()
    runtime.services["keys"] = directory
    await runtime.follow("auth.>", directory.apply, auth_registry())

    async def credentials(request: CredentialsRequest) -> Any:
        return await registrations.credentials(request.org_id, request.registration_id)

    async def registration_list(request: RegistrationsRequest) -> Any:
        return RegistrationList(items=await registrations.infos(request.org_id, request.ids))

    async def mcp_credentials(request: McpServerCredentialsRequest) -> Any:
        return await mcp_servers.credentials(request.org_id, request.server_id)

    assert runtime.nc is not None
    nc = runtime.nc
    await serve(nc, CREDENTIALS_SUBJECT, CredentialsRequest, _answer(credentials), queue="catalog")
    await serve(
        nc,
        REGISTRATIONS_SUBJECT,
        RegistrationsRequest,
        _answer(registration_list),
        queue="catalog",
    )
    await serve(
        nc,
        MCP_CREDENTIALS_SUBJECT,
        McpServerCredentialsRequest,
        _answer(mcp_credentials),
        queue="catalog",
    )


def _routes(runtime: Runtime[CatalogSettings]) -> list[Any]:
    return [*CONTROLLERS]


definition: ServiceDefinition[CatalogSettings] = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    migrations=[CATALOG_MIGRATIONS],
    registry=catalog_event_registry(),
    projections=lambda: [CatalogProjection()],
    route_handlers=_routes,
    on_start=[_start],
    provides=["registrations", "inference", "jobs", "conversations", "mcp_servers", "url_guard"],
)


def create_app(settings: CatalogSettings) -> Litestar:
    """The catalog service's ASGI app."""
    app: Litestar = create_service_app(definition, settings)
    return app
