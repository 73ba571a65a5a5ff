"""Composition root of the gateway service: wires ports to adapters."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar

from hyperstrate_gateway.api.admin_proxy import admin_proxy_handlers
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.service import Runtime, ServiceDefinition, create_service_app

__all__ = ["create_app", "definition"]


def _routes(runtime: Runtime[GatewaySettings]) -> list[Any]:
    # One pooled client per app; it binds to the server's event loop on first use.
    client = httpx.AsyncClient(timeout=30.0, limits=httpx.Limits(max_keepalive_connections=50))
    runtime.services["admin_http"] = client
    return [*admin_proxy_handlers(runtime.settings.admin_routes(), client)]


async def _close_admin_client(runtime: Runtime[GatewaySettings]) -> None:
    runtime.on_stop(runtime.services["admin_http"].aclose)


definition: ServiceDefinition[GatewaySettings] = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    migrations=None,
    route_handlers=_routes,
    on_start=[_close_admin_client],
)


def create_app(settings: GatewaySettings) -> Litestar:
    """The gateway service's ASGI app."""
    return create_service_app(definition, settings)
