"""A small OpenID Connect provider for tests: real RSA signing key, JWKS, PKCE, on loopback.

It logs in whoever it is told to (`provider.email`) and can be told to misbehave
(`provider.tamper`) so the tests see the gateway refuse untrustworthy ID tokens.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar, Request, get, post
from litestar.response import Redirect, Response

CLIENT_ID = "hyperstrate-test-client"
CLIENT_SECRET = "test-client-secret"


class TestOidcProvider:
    __test__ = False

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(8)
        self.issuer = ""
        self.email = "oidc-user@a.example"
        self.tamper = ""  # "", "nonce", "expired", "audience", "foreign_key", "pkce"
        self.codes: dict[str, dict[str, str]] = {}

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def id_token(self, grant: dict[str, str]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": f"sub-{self.email}",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            "email": self.email,
            "email_verified": True,
            "name": "Oidc User",
        }
        key: Any = self.key
        if self.tamper == "nonce":
            claims["nonce"] = "someone-elses-nonce"
        elif self.tamper == "expired":
            claims.update(iat=now - 4000, exp=now - 3600)
        elif self.tamper == "audience":
            claims["aud"] = "another-client"
        elif self.tamper == "foreign_key":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})

    def app(self) -> Litestar:
        provider = self

        @get("/.well-known/openid-configuration", sync_to_thread=False)
        def discovery() -> dict[str, str]:
            return {
                "issuer": provider.issuer,
                "authorization_endpoint": f"{provider.issuer}/authorize",
                "token_endpoint": f"{provider.issuer}/token",
                "jwks_uri": f"{provider.issuer}/jwks",
            }

        @get("/jwks", sync_to_thread=False)
        def jwks() -> dict[str, Any]:
            return provider.jwks()

        @get("/authorize", sync_to_thread=False)
        def authorize(request: Request[Any, Any, Any]) -> Redirect:
            query = request.query_params
            assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            provider.codes[code] = {
                "nonce": query["nonce"],
                "challenge": query["code_challenge"],
                "redirect_uri": query["redirect_uri"],
            }
            return Redirect(
                f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            )

        @post("/token")
        async def token(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
            form = await request.form()
            grant = provider.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            valid = (
                grant is not None
                and digest == grant["challenge"]
                and provider.tamper != "pkce"
                and form.get("client_secret") == CLIENT_SECRET
                and form.get("redirect_uri") == grant["redirect_uri"]
            )
            if not valid or grant is None:
                return Response({"error": "invalid_grant"}, status_code=400)
            return Response(
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": provider.id_token(grant),
                },
                status_code=200,
            )

        return Litestar([discovery, jwks, authorize, token], logging_config=None)


@asynccontextmanager
async def running_oidc_provider() -> AsyncIterator[TestOidcProvider]:
    """Serve a provider on a free loopback port for the duration of the block."""
    provider = TestOidcProvider()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    provider.issuer = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(
            provider.app(),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield provider
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
