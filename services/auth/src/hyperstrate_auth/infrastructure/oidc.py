"""OIDC login: the shared authorization-code flow with PKCE, then PyJWT for the ID token
(signature against the provider's JWKS, issuer, audience, expiry, nonce)."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx
import jwt

from hyperstrate_auth.application.oidc import IdentityProviderUnreachable, LoginRefused, Pending
from hyperstrate_auth.infrastructure.authorization_code import (
    AuthorizationCodeFlow,
    IdentityClaims,
    PendingLogin,
    fetch_json,
)
from hyperstrate_auth.settings import OidcProviderSettings

__all__ = ["OidcProvider"]

_JWKS_TTL_SECONDS = 600
_SIGNING_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class OidcProvider:
    """One configured OIDC provider: authorization URL, code exchange, ID token check."""

    def __init__(
        self, name: str, settings: OidcProviderSettings, jwks_url: str, http: httpx.AsyncClient
    ):
        self.name = name
        self.settings = settings
        self._jwks_url = settings.jwks_url or jwks_url
        self._http = http
        self._flow = AuthorizationCodeFlow(
            settings.client_id, settings.client_secret, settings.scope, http
        )
        self._endpoints: dict[str, Any] = {}
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
            discovered = await fetch_json(self._http, url)
            if not isinstance(discovered, dict):
                raise IdentityProviderUnreachable("the identity provider's discovery is invalid")
            self._endpoints = discovered
        if not isinstance(self._endpoints.get(key), str):
            raise IdentityProviderUnreachable(f"the identity provider's discovery lacks {key}")
        return str(self._endpoints[key])

    async def begin(self, redirect_uri: str) -> PendingLogin:
        """A fresh state, nonce and PKCE verifier, and the URL to send the browser to."""
        return self._flow.begin(
            await self._endpoint("authorization_endpoint"), redirect_uri, with_nonce=True
        )

    async def finish(self, redirect_uri: str, code: str, pending: Pending) -> IdentityClaims:
        """Exchange the code (with the PKCE verifier) and verify the ID token."""
        token = await self._flow.exchange(
            await self._endpoint("token_endpoint"), redirect_uri, code, pending.code_verifier
        )
        id_token = token.get("id_token")
        if not id_token:
            raise LoginRefused("the identity provider returned no ID token")
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
            raise LoginRefused("the ID token is not valid") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise LoginRefused("the ID token is not valid")
        email = str(claims.get("email", "")).strip().lower()
        if not email or claims.get("email_verified") is False:
            raise LoginRefused("the identity provider gave no verified email")
        return IdentityClaims(
            subject=str(claims["sub"]), email=email, name=str(claims.get("name") or email)
        )

    async def _keys(self) -> jwt.PyJWKSet:
        if self._jwks is None or self._jwks[0] < time.monotonic():
            document = await fetch_json(self._http, await self._endpoint("jwks_uri"))
            try:
                keys = jwt.PyJWKSet.from_dict(document)
            except (jwt.PyJWTError, TypeError, AttributeError) as exc:
                raise IdentityProviderUnreachable(
                    "the identity provider's JWKS is invalid"
                ) from exc
            self._jwks = (time.monotonic() + _JWKS_TTL_SECONDS, keys)
        return self._jwks[1]
