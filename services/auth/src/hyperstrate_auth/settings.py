"""Settings of the auth service (environment variables, see README)."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import msgspec

from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["GITHUB_PRESET", "AuthSettings", "OidcProviderSettings", "resolve_login_provider"]


class OidcProviderSettings(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One login provider, from `OIDC_PROVIDER_SETTINGS` (JSON keyed by provider name).

    `kind` "oidc" (the default): identity from a signed ID token; endpoints not given are
    discovered from `{issuer}/.well-known/openid-configuration`. `kind` "oauth2": plain
    OAuth2 (GitHub), identity from the user-info endpoint called with the access token, and
    a verified e-mail from the e-mails endpoint when there is one. A provider named `github`
    without a `kind` is OAuth2 with GitHub's endpoints (`GITHUB_PRESET`); any URL given
    still wins. Users are matched by email; with `organizationId` set, unknown users are
    created there as members, otherwise they must have been created by an admin first.
    """

    kind: Literal["", "oidc", "oauth2"] = ""  # "": "oidc", or the preset of the name
    client_id: str
    client_secret: str = ""
    issuer: str = ""  # oidc only, and required there
    authorize_url: str = ""
    token_url: str = ""
    jwks_url: str = ""  # oidc: defaults to OIDC_JWKS_URL, then to discovery
    userinfo_url: str = ""  # oauth2: required
    emails_url: str = ""  # oauth2: GitHub's `/user/emails` list, when the user-info has none
    scope: str = ""  # "": "openid email profile" (oidc), the preset's, or none (oauth2)
    organization_id: str = ""


# GitHub is OAuth2, not OpenID Connect: no ID token, and `/user` shows only a public e-mail
# with no word on whether it is verified, hence `/user/emails`.
GITHUB_PRESET = OidcProviderSettings(
    kind="oauth2",
    client_id="",
    authorize_url="https://github.com/login/oauth/authorize",
    token_url="https://github.com/login/oauth/access_token",
    userinfo_url="https://api.github.com/user",
    emails_url="https://api.github.com/user/emails",
    scope="read:user user:email",
)
_PRESETS = {"github": GITHUB_PRESET}
_OIDC_DEFAULT_SCOPE = "openid email profile"


def resolve_login_provider(name: str, entry: OidcProviderSettings) -> OidcProviderSettings:
    """The entry with its kind, the preset's endpoints and the default scope filled in.

    Raises `SettingsError` naming `OIDC_PROVIDER_SETTINGS` and the provider when the entry
    lacks what its kind needs.
    """
    preset = _PRESETS.get(name) if not entry.kind else None
    if preset is not None:
        entry = msgspec.structs.replace(
            entry,
            kind=preset.kind,
            **{
                field: getattr(entry, field) or getattr(preset, field)
                for field in ("authorize_url", "token_url", "userinfo_url", "emails_url", "scope")
            },
        )
    elif not entry.kind or entry.kind == "oidc":
        entry = msgspec.structs.replace(
            entry, kind="oidc", scope=entry.scope or _OIDC_DEFAULT_SCOPE
        )
    problem = _missing_or_invalid(entry)
    if problem:
        raise SettingsError(f"OIDC_PROVIDER_SETTINGS: provider {name!r} ({entry.kind}) {problem}")
    return entry


def _missing_or_invalid(entry: OidcProviderSettings) -> str:
    if not entry.client_id:
        return "needs clientId"
    required = (
        ("issuer",) if entry.kind == "oidc" else ("authorize_url", "token_url", "userinfo_url")
    )
    for field in required:
        if not getattr(entry, field):
            return f"needs {_camel(field)}"
    for field in ("issuer", "authorize_url", "token_url", "jwks_url", "userinfo_url", "emails_url"):
        url = urlsplit(getattr(entry, field))
        if getattr(entry, field) and (url.scheme not in ("http", "https") or not url.hostname):
            return f"{_camel(field)}: must be an http(s) URL"
    return ""


def _camel(field: str) -> str:
    head, *rest = field.split("_")
    return head + "".join(part.capitalize() for part in rest)


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
    # Login throttling (see README "Login throttling"): per account, then per client address.
    login_free_failures: int = 5
    login_lock_after_failures: int = 20
    login_address_free_failures: int = 20
    login_address_lock_after_failures: int = 100
    login_backoff_seconds: float = 1.0
    login_backoff_max_seconds: float = 60.0
    login_lock_seconds: float = 900.0
    # Peers whose X-Forwarded-For is believed (IPs or CIDRs): the gateway. Loopback by
    # default, as `just up` runs the gateway on this machine.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")

    def __post_init__(self) -> None:
        super().__post_init__()
        self._check_login_throttle()
        try:
            self.trusted_networks()
        except ValueError as exc:
            raise SettingsError(f"TRUSTED_PROXIES: {exc}") from exc
        missing = [name for name in self.oidc_providers if name not in self.oidc_provider_settings]
        if missing:
            raise SettingsError(
                f"OIDC_PROVIDER_SETTINGS: no settings for provider(s) {', '.join(missing)} "
                "listed in OIDC_PROVIDERS"
            )
        self.login_providers()  # an incomplete entry stops start-up here, named

    def _check_login_throttle(self) -> None:
        for free, lock, prefix in (
            (self.login_free_failures, self.login_lock_after_failures, "LOGIN"),
            (
                self.login_address_free_failures,
                self.login_address_lock_after_failures,
                "LOGIN_ADDRESS",
            ),
        ):
            if free < 0:
                raise SettingsError(f"{prefix}_FREE_FAILURES: must be 0 or more")
            if lock <= free:
                raise SettingsError(
                    f"{prefix}_LOCK_AFTER_FAILURES: must be more than {prefix}_FREE_FAILURES"
                )
        if not 0 < self.login_backoff_seconds <= self.login_backoff_max_seconds:
            raise SettingsError(
                "LOGIN_BACKOFF_SECONDS: must be more than 0 and at most LOGIN_BACKOFF_MAX_SECONDS"
            )
        if self.login_lock_seconds < self.login_backoff_max_seconds:
            raise SettingsError("LOGIN_LOCK_SECONDS: must be at least LOGIN_BACKOFF_MAX_SECONDS")

    def trusted_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The networks of `TRUSTED_PROXIES` (a bare address is a network of one)."""
        return tuple(ip_network(entry, strict=False) for entry in self.trusted_proxies)

    def login_providers(self) -> dict[str, OidcProviderSettings]:
        """The providers of `OIDC_PROVIDERS`, each resolved (kind, preset, defaults)."""
        return {
            name: resolve_login_provider(name, self.oidc_provider_settings[name])
            for name in self.oidc_providers
        }
