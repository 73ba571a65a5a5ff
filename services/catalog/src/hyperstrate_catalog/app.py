"""Composition root of the catalog service: wires ports to adapters."""

from __future__ import annotations

from litestar import Litestar

from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import ServiceDefinition, create_service_app

__all__ = ["create_app", "definition"]

definition: ServiceDefinition[CatalogSettings] = ServiceDefinition(
    name="catalog",
    settings_type=CatalogSettings,
    migrations=[MigrationSet("hyperstrate_catalog.migrations", "catalog_alembic_version")],
)


def create_app(settings: CatalogSettings) -> Litestar:
    """The catalog service's ASGI app."""
    return create_service_app(definition, settings)
