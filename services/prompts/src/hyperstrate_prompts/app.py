"""Composition root of the prompts service: wires ports to adapters."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from hyperstrate_contracts.prompts import prompts_registry
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app
from hyperstrate_prompts.api.controllers import CONTROLLERS
from hyperstrate_prompts.application.service import PromptsService
from hyperstrate_prompts.infrastructure.projections import PromptProjection
from hyperstrate_prompts.infrastructure.repository import PromptRepository
from hyperstrate_prompts.settings import PromptsSettings

__all__ = ["MIGRATIONS", "build_prompts_service", "create_app", "definition"]

MIGRATIONS = [MigrationSet("hyperstrate_prompts.migrations", "prompts_alembic_version")]


def build_prompts_service(runtime: Runtime[PromptsSettings]) -> PromptsService:
    """The application service over the runtime's database and event store."""
    return PromptsService(
        runtime.require_database(), runtime.require_event_store(), PromptRepository()
    )


async def _start(runtime: Runtime[PromptsSettings]) -> None:
    runtime.services["prompts"] = build_prompts_service(runtime)


def _routes(runtime: Runtime[PromptsSettings]) -> list[Any]:
    return [*CONTROLLERS]


definition: ServiceDefinition[PromptsSettings] = ServiceDefinition(
    name="prompts",
    settings_type=PromptsSettings,
    migrations=MIGRATIONS,
    registry=prompts_registry(),
    projections=lambda: [PromptProjection()],
    route_handlers=_routes,
    on_start=[_start],
    provides=["prompts"],
)


def create_app(settings: PromptsSettings) -> Litestar:
    """The prompts service's ASGI app."""
    app: Litestar = create_service_app(definition, settings)
    return app
