"""Composition root of the observability service: wires ports to adapters."""

from __future__ import annotations

from litestar import Litestar

from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import ServiceDefinition, create_service_app
from hyperstrate_observability.settings import ObservabilitySettings

__all__ = ["create_app", "definition"]

definition: ServiceDefinition[ObservabilitySettings] = ServiceDefinition(
    name="observability",
    settings_type=ObservabilitySettings,
    migrations=[
        MigrationSet("hyperstrate_observability.migrations", "observability_alembic_version")
    ],
)


def create_app(settings: ObservabilitySettings) -> Litestar:
    """The observability service's ASGI app."""
    return create_service_app(definition, settings)
