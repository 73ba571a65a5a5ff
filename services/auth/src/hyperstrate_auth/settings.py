"""Settings of the auth service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.settings import ServiceSettings

__all__ = ["AuthSettings"]


class AuthSettings(ServiceSettings, frozen=True, kw_only=True):
    """The auth service's configuration."""

    service_name: ClassVar[str] = "auth"
    default_port: ClassVar[int] = 8091

    admin_email: str = ""
    oidc_jwks_url: str = ""
    oidc_providers: tuple[str, ...] = ()
