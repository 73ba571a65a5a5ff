"""Composition root of the auth service: wires ports to adapters."""

from __future__ import annotations

from litestar import Litestar

from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import ServiceDefinition, create_service_app

__all__ = ["create_app", "definition"]

definition: ServiceDefinition[AuthSettings] = ServiceDefinition(
    name="auth",
    settings_type=AuthSettings,
    migrations=[MigrationSet("hyperstrate_auth.migrations", "auth_alembic_version")],
)


def create_app(settings: AuthSettings) -> Litestar:
    """The auth service's ASGI app."""
    return create_service_app(definition, settings)
