"""Settings of the gateway service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings, frozen=True, kw_only=True):
    """The gateway service's configuration."""

    service_name: ClassVar[str] = "gateway"
    default_port: ClassVar[int] = 8090

    # Where the admin APIs live; the gateway passes `/auth`, `/ai`, ... through to them.
    auth_service_url: str = "http://127.0.0.1:8091"
    catalog_service_url: str = "http://127.0.0.1:8092"
    router_service_url: str = "http://127.0.0.1:8093"
    prompts_service_url: str = "http://127.0.0.1:8094"
    observability_service_url: str = "http://127.0.0.1:8095"
    #: An inference whose router says nothing for this long (no frame, no liveness message)
    #: is answered 502: the router is gone. Routers speak at least every 1.5 s while at work.
    router_liveness_timeout_secs: float = 4.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 2 <= self.router_liveness_timeout_secs <= 600:
            raise SettingsError("ROUTER_LIVENESS_TIMEOUT_SECS: must be between 2 and 600")

    def admin_routes(self) -> dict[str, str]:
        """Path prefix -> the service that owns it."""
        return {
            "/auth": self.auth_service_url,
            "/ai": self.catalog_service_url,
            "/routers": self.router_service_url,
            "/prompts": self.prompts_service_url,
            "/observability": self.observability_service_url,
        }
