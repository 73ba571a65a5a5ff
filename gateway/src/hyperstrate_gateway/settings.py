"""Settings of the gateway service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.settings import ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings, frozen=True, kw_only=True):
    """The gateway service's configuration."""

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8090
