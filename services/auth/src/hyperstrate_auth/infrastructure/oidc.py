"""OIDC authorization-code flow with PKCE: authlib for the OAuth2 client, PyJWT for the
ID token (signature against the provider's JWKS, issuer, audience, expiry, nonce)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import jwt
import msgspec
from authlib.integrations.httpx_client import AsyncOAuth2Client

from hyperstrate_auth.application.oidc import Pending
from hyperstrate_auth.settings import OidcProviderSettings

__all__ = ["IdentityClaims", "OidcError", "OidcProvider", "PendingLogin"]

_JWKS_TTL_SECONDS = 600
_SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class OidcError(Exception):
    """The provider's answer could not be trusted; the message is safe to show."""


class PendingLogin(msgspec.Struct, frozen=True):
    """What the callback needs to finish a login: kept server-side, keyed by `state`."""

    state: str
    nonce: str
    code_verifier: str
    authorization_url: str


class IdentityClaims(msgspec.Struct, frozen=True):
    """The verified identity from an ID token."""

    subject: str
    email: str
    name: str


class OidcProvider:
    """One configured provider: authorization URL, code exchange, ID token verification."""

    def __init__(
        self, name: str, settings: OidcProviderSettings, jwks_url: str, http: httpx.AsyncClient
    ):
        self.name = name
        self.settings = settings
        self._jwks_url = settings.jwks_url or jwks_url
        self._http = http
        self._endpoints: dict[str, str] = {}
        self._jwks: tuple[float, jwt.PyJWKSet] | None = None

    async def _endpoint(self, key: str) -> str:
        explicit = {
            "authorization_endpoint": self.settings.authorize_url,
            "token_endpoint": self.settings.token_url,
            "jwks_uri": self._jwks_url,
        }
        if explicit[key]:
            return explicit[key]
        if not self._endpoints:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = await self._http.get(url)
            response.raise_for_status()
            self._endpoints = response.json()
        return str(self._endpoints[key])

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret or None,
            scope=self.settings.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_post"
            if self.settings.client_secret
            else "none",
        )

    async def begin(self, redirect_uri: str) -> PendingLogin:
        """A fresh state, nonce and PKCE verifier, and the URL to send the browser to."""
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        code_verifier = secrets.token_urlsafe(48)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                await self._endpoint("authorization_endpoint"),
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return PendingLogin(
            state=state, nonce=nonce, code_verifier=code_verifier, authorization_url=url
        )

    async def finish(self, redirect_uri: str, code: str, pending: Pending) -> IdentityClaims:
        """Exchange the code (with the PKCE verifier) and verify the ID token."""
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    await self._endpoint("token_endpoint"),
                    code=code,
                    code_verifier=pending.code_verifier,
                    grant_type="authorization_code",
                )
            except Exception as exc:  # the provider refused the code
                raise OidcError("the identity provider refused the login") from exc
        id_token = token.get("id_token")
        if not id_token:
            raise OidcError("the identity provider returned no ID token")
        return await self._verify(str(id_token), pending.nonce)

    async def _verify(self, id_token: str, nonce: str) -> IdentityClaims:
        try:
            key = (await self._keys())[jwt.get_unverified_header(id_token).get("kid", "")]
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=_SIGNING_ALGORITHMS,
                audience=self.settings.client_id,
                issuer=self.settings.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except (jwt.PyJWTError, KeyError) as exc:
            raise OidcError("the ID token is not valid") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("the ID token is not valid")
        email = str(claims.get("email", "")).strip().lower()
        if not email or claims.get("email_verified") is False:
            raise OidcError("the identity provider gave no verified email")
        return IdentityClaims(
            subject=str(claims["sub"]), email=email, name=str(claims.get("name") or email)
        )

    async def _keys(self) -> jwt.PyJWKSet:
        if self._jwks is None or self._jwks[0] < time.monotonic():
            response = await self._http.get(await self._endpoint("jwks_uri"))
            response.raise_for_status()
            self._jwks = (
                time.monotonic() + _JWKS_TTL_SECONDS,
                jwt.PyJWKSet.from_dict(response.json()),
            )
        return self._jwks[1]
