"""Composition root of the router service: wires ports to adapters."""

from __future__ import annotations

from litestar import Litestar

from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import ServiceDefinition, create_service_app
from hyperstrate_router.settings import RouterSettings

__all__ = ["create_app", "definition"]

definition: ServiceDefinition[RouterSettings] = ServiceDefinition(
    name="router",
    settings_type=RouterSettings,
    migrations=[MigrationSet("hyperstrate_router.migrations", "router_alembic_version")],
)


def create_app(settings: RouterSettings) -> Litestar:
    """The router service's ASGI app."""
    return create_service_app(definition, settings)
