"""Composition root of the auth service: wires ports to adapters."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from hyperstrate_auth.api.controllers import CONTROLLERS
from hyperstrate_auth.application.service import AuthService
from hyperstrate_auth.infrastructure.passwords import Argon2PasswordHasher
from hyperstrate_auth.infrastructure.projections import AuthProjection
from hyperstrate_auth.infrastructure.repository import AuthRepository
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_contracts.auth import KEY_USAGE_SUBJECT, KeyUsageBatch, auth_registry
from hyperstrate_kit.bus import serve
from hyperstrate_kit.database import MigrationSet
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app

__all__ = ["build_auth_service", "create_app", "definition"]


def build_auth_service(runtime: Runtime[AuthSettings]) -> AuthService:
    """The application service over the runtime's database and event store."""
    return AuthService(
        runtime.require_database(),
        runtime.require_event_store(),
        AuthRepository(),
        Argon2PasswordHasher(),
        jwt_secret=runtime.settings.effective_jwt_secret,
        admin_email=runtime.settings.admin_email,
    )


async def _start(runtime: Runtime[AuthSettings]) -> None:
    service = build_auth_service(runtime)
    runtime.services["auth"] = service
    assert runtime.nc is not None

    async def record_usage(batch: KeyUsageBatch) -> Any:
        await service.record_key_usage(batch.last_used)
        return batch

    await serve(runtime.nc, KEY_USAGE_SUBJECT, KeyUsageBatch, record_usage, queue="auth")


def _routes(runtime: Runtime[AuthSettings]) -> list[Any]:
    return [*CONTROLLERS]


definition: ServiceDefinition[AuthSettings] = ServiceDefinition(
    name="auth",
    settings_type=AuthSettings,
    migrations=[MigrationSet("hyperstrate_auth.migrations", "auth_alembic_version")],
    registry=auth_registry(),
    projections=lambda: [AuthProjection()],
    route_handlers=_routes,
    on_start=[_start],
    provides=["auth"],
)


def create_app(settings: AuthSettings) -> Litestar:
    """The auth service's ASGI app."""
    return create_service_app(definition, settings)
