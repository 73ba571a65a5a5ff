"""Plain OAuth2 login (GitHub and the like): no ID token, so the identity is what the
user-info endpoint says about the holder of the access token, and the e-mail is one the
provider has verified (GitHub: `/user/emails`, `verified: true`, the primary preferred)."""

from __future__ import annotations

from typing import Any

import httpx

from hyperstrate_auth.application.oidc import IdentityProviderUnreachable, LoginRefused, Pending
from hyperstrate_auth.infrastructure.authorization_code import (
    AuthorizationCodeFlow,
    IdentityClaims,
    PendingLogin,
    fetch_json,
)
from hyperstrate_auth.settings import OidcProviderSettings

__all__ = ["OAuth2Provider", "verified_email"]

_NO_VERIFIED_EMAIL = "the identity provider gave no verified email"


class OAuth2Provider:
    """One configured OAuth2 provider whose identity comes from a user-info endpoint."""

    def __init__(self, name: str, settings: OidcProviderSettings, http: httpx.AsyncClient):
        self.name = name
        self.settings = settings
        self._http = http
        self._flow = AuthorizationCodeFlow(
            settings.client_id, settings.client_secret, settings.scope, http
        )

    async def begin(self, redirect_uri: str) -> PendingLogin:
        """A fresh state and PKCE verifier (providers without PKCE ignore the challenge)."""
        return self._flow.begin(self.settings.authorize_url, redirect_uri, with_nonce=False)

    async def finish(self, redirect_uri: str, code: str, pending: Pending) -> IdentityClaims:
        """Exchange the code, then ask who holds the access token and which email is theirs."""
        token = await self._flow.exchange(
            self.settings.token_url, redirect_uri, code, pending.code_verifier
        )
        access_token = token.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise LoginRefused("the identity provider returned no access token")
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        user = await fetch_json(self._http, self.settings.userinfo_url, headers)
        if not isinstance(user, dict):
            raise IdentityProviderUnreachable("the identity provider's user info is invalid")
        subject = user.get("sub", user.get("id"))
        if subject is None or isinstance(subject, (dict, list, bool)) or str(subject) == "":
            raise LoginRefused("the identity provider gave no user id")
        if self.settings.emails_url:
            email = verified_email(await fetch_json(self._http, self.settings.emails_url, headers))
        else:
            email = _verified_userinfo_email(user)
        name = user.get("name") or user.get("login") or email
        return IdentityClaims(subject=str(subject), email=email, name=str(name))


def verified_email(emails: Any) -> str:
    """The verified email of a GitHub-style `/user/emails` list, the primary preferred.

    Raises `LoginRefused` when no email is verified.
    """
    if not isinstance(emails, list):
        raise IdentityProviderUnreachable("the identity provider's email list is invalid")
    verified = [
        entry
        for entry in emails
        if isinstance(entry, dict)
        and entry.get("verified") is True
        and isinstance(entry.get("email"), str)
        and "@" in entry["email"]
    ]
    if not verified:
        raise LoginRefused(_NO_VERIFIED_EMAIL)
    chosen = next((entry for entry in verified if entry.get("primary") is True), verified[0])
    return str(chosen["email"]).strip().lower()


def _verified_userinfo_email(user: dict[str, Any]) -> str:
    # Without an emails endpoint, only an OIDC-style `email_verified: true` will do: a bare
    # `email` may be any address the user typed into a profile.
    email = user.get("email")
    if not isinstance(email, str) or "@" not in email or user.get("email_verified") is not True:
        raise LoginRefused(_NO_VERIFIED_EMAIL)
    return email.strip().lower()
