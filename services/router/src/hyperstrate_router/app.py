"""Composition root of the router service: wires ports to adapters."""

from __future__ import annotations

from typing import Any

from hyperstrate_contracts.catalog import catalog_registry
from hyperstrate_contracts.router import router_registry
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.security import OutboundUrlGuard
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app
from hyperstrate_router.api.controllers import ADMIN_CONTROLLERS
from hyperstrate_router.application.ports import RegistrationLookup
from hyperstrate_router.application.service import RouterAdminService
from hyperstrate_router.inference_runtime import start_inference
from hyperstrate_router.infrastructure.projections import RouterProjection
from hyperstrate_router.infrastructure.registration_directory import (
    REGISTRATION_SUBJECTS,
    RegistrationDirectory,
)
from hyperstrate_router.infrastructure.repository import RouterRepository
from hyperstrate_router.settings import RouterSettings

__all__ = [
    "admin_routes",
    "build_admin_service",
    "create_app",
    "definition",
    "start_admin",
]

# -- admin side: routers, targets, features, interceptors, configuration -----------------------

#: Key of the admin application service in `runtime.services` (handlers take it as `routers`).
ADMIN_SERVICE = "routers"
#: Key of the registration directory (CATALOG stream) in `runtime.services`.
REGISTRATION_DIRECTORY = "registration_directory"


def build_admin_service(
    runtime: Runtime[RouterSettings], registrations: RegistrationLookup
) -> RouterAdminService:
    """The admin application service over the runtime's database and event store."""
    settings = runtime.settings
    return RouterAdminService(
        runtime.require_database(),
        runtime.require_event_store(),
        RouterRepository(),
        registrations,
        OutboundUrlGuard(
            allow_private=settings.outbound_allow_private,
            allowed_hosts=settings.outbound_allowed_hosts,
        ),
    )


async def start_admin(runtime: Runtime[RouterSettings]) -> None:
    """Follow the catalog's registrations and build the admin service."""
    directory = RegistrationDirectory(runtime.nc)
    await runtime.follow(REGISTRATION_SUBJECTS, directory.apply, catalog_registry())
    runtime.services[REGISTRATION_DIRECTORY] = directory
    runtime.services[ADMIN_SERVICE] = build_admin_service(runtime, directory)


def admin_routes() -> list[Any]:
    """The admin API's controllers (`/routers`)."""
    return [*ADMIN_CONTROLLERS]


# -- the service ------------------------------------------------------------------------------


def _routes(runtime: Runtime[RouterSettings]) -> list[Any]:
    return admin_routes()


definition: ServiceDefinition[RouterSettings] = ServiceDefinition(
    name="router",
    settings_type=RouterSettings,
    migrations=[MigrationSet("hyperstrate_router.migrations", "router_alembic_version")],
    registry=router_registry(),
    projections=lambda: [RouterProjection()],
    route_handlers=_routes,
    on_start=[start_admin, start_inference],
    provides=[ADMIN_SERVICE],
)


def create_app(settings: RouterSettings) -> Any:
    """The router service's ASGI app (Litestar; its lifespan owns `app.state.runtime`)."""
    return create_service_app(definition, settings)
