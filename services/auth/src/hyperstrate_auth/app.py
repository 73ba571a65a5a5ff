"""Composition root of the auth service: wires ports to adapters."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar

from hyperstrate_auth.api.controllers import CONTROLLERS
from hyperstrate_auth.application.oidc import IdentityProvider, OidcLoginService
from hyperstrate_auth.application.service import AuthService
from hyperstrate_auth.application.throttle import LoginThrottle
from hyperstrate_auth.domain.throttle import ThrottlePolicy
from hyperstrate_auth.infrastructure.known_routers import ROUTER_SUBJECTS, RouterDirectory
from hyperstrate_auth.infrastructure.login_failures import PostgresLoginFailures
from hyperstrate_auth.infrastructure.oauth2 import OAuth2Provider
from hyperstrate_auth.infrastructure.oidc import OidcProvider
from hyperstrate_auth.infrastructure.passwords import Argon2PasswordHasher
from hyperstrate_auth.infrastructure.projections import AuthProjection
from hyperstrate_auth.infrastructure.repository import AuthRepository, PendingLogins
from hyperstrate_auth.infrastructure.team_usage import ObservabilityTeamUsage
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_contracts.auth import KEY_USAGE_SUBJECT, KeyUsageBatch, auth_registry
from hyperstrate_contracts.router import router_registry
from hyperstrate_kit.bus import serve
from hyperstrate_kit.database import Database, MigrationSet
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app

__all__ = ["build_auth_service", "create_app", "definition", "login_throttle"]


def login_throttle(settings: AuthSettings, database: Database) -> LoginThrottle:
    """The login throttle of the settings, counting in the auth database."""

    def policy(free: int, lock_after: int) -> ThrottlePolicy:
        return ThrottlePolicy(
            free_failures=free,
            lock_after_failures=lock_after,
            backoff_seconds=settings.login_backoff_seconds,
            backoff_max_seconds=settings.login_backoff_max_seconds,
            lock_seconds=settings.login_lock_seconds,
        )

    return LoginThrottle(
        database,
        PostgresLoginFailures(),
        account=policy(settings.login_free_failures, settings.login_lock_after_failures),
        address=policy(
            settings.login_address_free_failures, settings.login_address_lock_after_failures
        ),
    )


def build_auth_service(
    runtime: Runtime[AuthSettings], routers: RouterDirectory | None = None
) -> AuthService:
    """The application service over the runtime's database and event store."""
    return AuthService(
        runtime.require_database(),
        runtime.require_event_store(),
        AuthRepository(),
        Argon2PasswordHasher(),
        jwt_secret=runtime.settings.effective_jwt_secret,
        admin_email=runtime.settings.admin_email,
        team_usage=ObservabilityTeamUsage(runtime.nc) if runtime.nc is not None else None,
        throttle=login_throttle(runtime.settings, runtime.require_database()),
        routers=routers,
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
    routers = RouterDirectory()
    await runtime.follow(ROUTER_SUBJECTS, routers.apply, router_registry())
    service = build_auth_service(runtime, routers)
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
    app.state.trusted_proxies = settings.trusted_networks()
    return app
