"""Composition root of the auth service: wires ports to adapters."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar

from hyperstrate_auth.api.controllers import CONTROLLERS
from hyperstrate_auth.application.oidc import IdentityProvider, OidcLoginService
from hyperstrate_auth.application.service import AuthService
from hyperstrate_auth.infrastructure.oauth2 import OAuth2Provider
from hyperstrate_auth.infrastructure.oidc import OidcProvider
from hyperstrate_auth.infrastructure.passwords import Argon2PasswordHasher
from hyperstrate_auth.infrastructure.projections import AuthProjection
from hyperstrate_auth.infrastructure.repository import AuthRepository, PendingLogins
from hyperstrate_auth.infrastructure.team_usage import ObservabilityTeamUsage
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
        team_usage=ObservabilityTeamUsage(runtime.nc) if runtime.nc is not None else None,
    )


def _build_oidc(runtime: Runtime[AuthSettings], auth: AuthService) -> OidcLoginService:
    settings = runtime.settings
    # Only the configured endpoints are called, and a redirect is never followed elsewhere.
    http = httpx.AsyncClient(
        timeout=10.0, follow_redirects=False, headers={"User-Agent": "hyperstrate-auth"}
    )
    runtime.on_stop(http.aclose)
    login_providers = settings.login_providers()
    providers: dict[str, IdentityProvider] = {
        name: OAuth2Provider(name, provider, http)
        if provider.kind == "oauth2"
        else OidcProvider(name, provider, settings.oidc_jwks_url, http)
        for name, provider in login_providers.items()
    }
    organizations = {name: provider.organization_id for name, provider in login_providers.items()}
    return OidcLoginService(
        auth,
        providers,
        organizations,
        PendingLogins(runtime.require_database()),
        settings.frontend_url,
    )


async def _start(runtime: Runtime[AuthSettings]) -> None:
    service = build_auth_service(runtime)
    runtime.services["auth"] = service
    runtime.services["oidc"] = _build_oidc(runtime, service)
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
    provides=["auth", "oidc"],
)


def create_app(settings: AuthSettings) -> Litestar:
    """The auth service's ASGI app."""
    app: Litestar = create_service_app(definition, settings)  # no `wrap`: plain Litestar
    app.state.public_url = settings.public_url
    return app
