"""Settings of the auth service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["AuthSettings", "OidcProviderSettings"]


class OidcProviderSettings(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One OIDC provider, from `OIDC_PROVIDER_SETTINGS` (JSON keyed by provider name).

    Endpoints not given are discovered from `{issuer}/.well-known/openid-configuration`.
    Users are matched by email; with `organizationId` set, unknown users are created there
    as members, otherwise they must have been created by an admin first.
    """

    client_id: str
    client_secret: str = ""
    issuer: str
    authorize_url: str = ""
    token_url: str = ""
    jwks_url: str = ""  # defaults to OIDC_JWKS_URL, then to discovery
    scope: str = "openid email profile"
    organization_id: str = ""


class AuthSettings(ServiceSettings, frozen=True, kw_only=True):
    """The auth service's configuration."""

    service_name: ClassVar[str] = "auth"
    default_port: ClassVar[int] = 8091

    admin_email: str = ""
    oidc_jwks_url: str = ""
    oidc_providers: tuple[str, ...] = ()
    oidc_provider_settings: dict[str, OidcProviderSettings] = {}
    # Where browsers reach this service (the gateway's URL in production), for OIDC redirects.
    public_url: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        missing = [name for name in self.oidc_providers if name not in self.oidc_provider_settings]
        if missing:
            raise SettingsError(
                f"OIDC_PROVIDER_SETTINGS: no settings for provider(s) {', '.join(missing)} "
                "listed in OIDC_PROVIDERS"
            )
