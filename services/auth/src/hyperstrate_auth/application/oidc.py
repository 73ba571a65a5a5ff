"""OIDC and OAuth2 login: send the browser to the provider, then turn its answer into a
session.

The user is matched by the verified email; an unknown email is created as a member of the
provider's configured organisation, or refused when none is configured.
"""

from __future__ import annotations

import logging
import secrets
from typing import Protocol
from urllib.parse import urlencode

from hyperstrate_auth.application.service import AuthService
from hyperstrate_kit.errors import (
    AppError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    UnauthorizedError,
)

__all__ = [
    "IdentityProvider",
    "IdentityProviderFailed",
    "IdentityProviderUnreachable",
    "LoginRefused",
    "OidcLoginService",
    "PendingLoginStore",
]

log = logging.getLogger("hyperstrate.auth.oidc")


class LoginRefused(Exception):
    """The provider refused the login, or its answer cannot be trusted; the message is safe
    to show (it never carries the provider's own words, tokens or secrets)."""


class IdentityProviderUnreachable(Exception):
    """The provider could not be asked, or answered with a server error; safe to show."""


class IdentityProviderFailed(AppError):
    """The identity provider failed us (502): not the caller's fault, and not ours."""

    status_code = 502
    default_message = "the identity provider is unavailable; try again later"


class Pending(Protocol):
    """A login started but not finished."""

    @property
    def state(self) -> str: ...
    @property
    def nonce(self) -> str: ...
    @property
    def code_verifier(self) -> str: ...
    @property
    def authorization_url(self) -> str: ...


class Identity(Protocol):
    """A verified identity: the provider's stable id for the user and a verified email."""

    @property
    def subject(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def name(self) -> str: ...


class IdentityProvider(Protocol):
    """One login provider: OIDC (ID token) or OAuth2 (user-info endpoint).

    Both methods raise `LoginRefused` or `IdentityProviderUnreachable`, nothing else.
    """

    async def begin(self, redirect_uri: str) -> Pending:
        """A new pending login with its authorization URL."""
        ...

    async def finish(self, redirect_uri: str, code: str, pending: Pending) -> Identity:
        """The verified identity for an authorization code (raises on anything untrusted)."""
        ...


class PendingLoginStore(Protocol):
    """Keeps pending logins by state until their callback (single use, short-lived)."""

    async def save(self, provider: str, pending: Pending) -> None:
        """Remember a pending login."""
        ...

    async def take(self, provider: str, state: str) -> Pending | None:
        """Remove and return a live pending login of this provider."""
        ...


class OidcLoginService:
    """The OIDC use cases."""

    def __init__(
        self,
        auth: AuthService,
        providers: dict[str, IdentityProvider],
        organizations: dict[str, str],
        pending: PendingLoginStore,
        frontend_url: str,
    ) -> None:
        self.auth = auth
        self.providers = providers
        self.organizations = organizations  # provider -> organisation of new users ("" none)
        self.pending = pending
        self.frontend_url = frontend_url.rstrip("/")

    def _provider(self, name: str) -> IdentityProvider:
        provider = self.providers.get(name)
        if provider is None:
            raise NotFoundError("unknown identity provider")
        return provider

    async def begin(self, provider_name: str, redirect_uri: str) -> str:
        """The provider's authorization URL for a new login (state, nonce, PKCE stored)."""
        try:
            pending = await self._provider(provider_name).begin(redirect_uri)
        except IdentityProviderUnreachable as exc:
            raise IdentityProviderFailed(str(exc) or None) from exc
        await self.pending.save(provider_name, pending)
        return pending.authorization_url

    async def finish(self, provider_name: str, code: str, state: str, redirect_uri: str) -> str:
        """Verify the callback and return the frontend URL carrying the new session."""
        provider = self._provider(provider_name)
        pending = await self.pending.take(provider_name, state)
        if pending is None:
            raise InvalidInputError("unknown or expired login", {"state": ["unknown or expired"]})
        try:
            identity = await provider.finish(redirect_uri, code, pending)
        except LoginRefused as exc:
            log.warning("login through %s refused: %s", provider_name, exc)
            raise UnauthorizedError(str(exc) or "login failed") from exc
        except IdentityProviderUnreachable as exc:
            log.warning("login through %s failed: %s", provider_name, exc)
            raise IdentityProviderFailed(str(exc) or None) from exc
        user = await self.auth.find_or_create_oidc_user(
            identity.email, identity.name, self.organizations.get(provider_name, "")
        )
        if user is None:
            raise ForbiddenError("no account for this email; ask an admin to create one")
        session = await self.auth.session_for_user(user)
        # The fragment never reaches servers or their logs.
        fragment = urlencode(
            {
                "access_token": session.access_token,
                "refresh_token": session.refresh_token,
                "token_type": session.token_type,
                "expires_in": session.expires_in,
            }
        )
        return f"{self.frontend_url}/auth/callback#{fragment}"


def random_password() -> str:
    """An unguessable password for accounts that only log in through a provider."""
    return secrets.token_urlsafe(32)
