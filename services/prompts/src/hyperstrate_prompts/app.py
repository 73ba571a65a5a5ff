"""Composition root of the prompts service: wires ports to adapters."""

from __future__ import annotations

from litestar import Litestar

from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import ServiceDefinition, create_service_app
from hyperstrate_prompts.settings import PromptsSettings

__all__ = ["create_app", "definition"]

definition: ServiceDefinition[PromptsSettings] = ServiceDefinition(
    name="prompts",
    settings_type=PromptsSettings,
    migrations=[MigrationSet("hyperstrate_prompts.migrations", "prompts_alembic_version")],
)


def create_app(settings: PromptsSettings) -> Litestar:
    """The prompts service's ASGI app."""
    return create_service_app(definition, settings)
