"""The OAuth2 authorization-code flow that OIDC and plain OAuth2 logins share: state, PKCE
(S256), the code exchange, and JSON reads from the provider, each failure turned into
`LoginRefused` or `IdentityProviderUnreachable` with a message safe to show (never the
provider's own words, a token or a secret)."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from hyperstrate_auth.application.oidc import IdentityProviderUnreachable, LoginRefused

__all__ = ["AuthorizationCodeFlow", "IdentityClaims", "PendingLogin", "fetch_json"]


class PendingLogin(msgspec.Struct, frozen=True):
    """What the callback needs to finish a login: kept server-side, keyed by `state`."""

    state: str
    nonce: str  # "" for OAuth2: no ID token to bind it to
    code_verifier: str
    authorization_url: str


class IdentityClaims(msgspec.Struct, frozen=True):
    """A verified identity: the provider's stable user id and a verified email."""

    subject: str
    email: str
    name: str


class AuthorizationCodeFlow:
    """One client registration at one provider: authorization URLs and code exchange.

    The exchange goes through the service's own HTTP client, so it follows no redirect and
    reaches only the configured token endpoint.
    """

    def __init__(
        self, client_id: str, client_secret: str, scope: str, http: httpx.AsyncClient
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._http = http

    def begin(
        self, authorization_endpoint: str, redirect_uri: str, *, with_nonce: bool
    ) -> PendingLogin:
        """A fresh state, PKCE verifier (and nonce), and the URL to send the browser to."""
        state = secrets.token_urlsafe(24)
        nonce = secrets.token_urlsafe(24) if with_nonce else ""
        code_verifier = secrets.token_urlsafe(48)
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            **({"scope": self._scope} if self._scope else {}),
            "state": state,
            **({"nonce": nonce} if nonce else {}),
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
        }
        separator = "&" if "?" in authorization_endpoint else "?"
        return PendingLogin(
            state=state,
            nonce=nonce,
            code_verifier=code_verifier,
            authorization_url=f"{authorization_endpoint}{separator}{urlencode(query)}",
        )

    async def exchange(
        self, token_endpoint: str, redirect_uri: str, code: str, code_verifier: str
    ) -> dict[str, Any]:
        """The token response for an authorization code (sent with the PKCE verifier)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": self.client_id,
            "code_verifier": code_verifier,
            **({"client_secret": self._client_secret} if self._client_secret else {}),
        }
        try:
            # GitHub answers form-encoded unless asked for JSON.
            response = await self._http.post(
                token_endpoint, data=form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise IdentityProviderUnreachable(_UNREACHABLE) from exc
        if _provider_at_fault(response.status_code):
            raise IdentityProviderUnreachable(_SERVER_ERROR)
        token = _json_or_none(response)
        # An OAuth2 error answer (an expired code, a failed PKCE check), which GitHub sends
        # with a 200.
        if not response.is_success or (isinstance(token, dict) and "error" in token):
            raise LoginRefused("the identity provider refused the login")
        if not isinstance(token, dict):
            raise IdentityProviderUnreachable(_UNREADABLE)
        return token


async def fetch_json(
    http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> Any:
    """GET a JSON document from the provider; a 401 means it refused the access token."""
    try:
        response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise IdentityProviderUnreachable(_UNREACHABLE) from exc
    if response.status_code == 401:
        raise LoginRefused("the identity provider refused its own access token")
    if not response.is_success:
        raise IdentityProviderUnreachable(_SERVER_ERROR)
    document = _json_or_none(response)
    if document is None:
        raise IdentityProviderUnreachable(_UNREADABLE)
    return document


_UNREACHABLE = "the identity provider could not be reached; try again later"
_SERVER_ERROR = "the identity provider answered with an error; try again later"
_UNREADABLE = "the identity provider gave an unreadable answer"


def _provider_at_fault(status: int) -> bool:
    # A redirect counts: only the configured endpoint is trusted, so none is followed.
    return status >= 500 or status == 429 or 300 <= status < 400


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
