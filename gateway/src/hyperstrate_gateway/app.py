"""Composition root of the gateway service: wires ports to adapters."""

from __future__ import annotations

from litestar import Litestar

from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.service import ServiceDefinition, create_service_app

__all__ = ["create_app", "definition"]

definition: ServiceDefinition[GatewaySettings] = ServiceDefinition(
    name="gateway",
    settings_type=GatewaySettings,
    migrations=None,
)


def create_app(settings: GatewaySettings) -> Litestar:
    """The gateway service's ASGI app."""
    return create_service_app(definition, settings)
