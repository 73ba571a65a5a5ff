"""A small GitHub for tests, on loopback, speaking GitHub's OAuth app wire format.

`/login/oauth/authorize` redirects back with a code; `/login/oauth/access_token` takes the
code, the client secret and the PKCE verifier as a form and answers JSON when asked with
`Accept: application/json` (GitHub's errors are HTTP 200 with an `error` field); `/user`
and `/user/emails` want `Authorization: Bearer <token>` (or `token <token>`). It can be told
to misbehave with `provider.tamper`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

from litestar import Litestar, Request, get, post
from litestar.response import Redirect, Response

from hyperstrate_kit.testing import serve_app

CLIENT_ID = "Iv1.hyperstrate-test"
CLIENT_SECRET = "github-test-client-secret"
PRIMARY_EMAIL = "octo@a.example"


class TestGitHub:
    __test__ = False

    def __init__(self) -> None:
        self.url = ""
        self.user_id = 583231
        # The primary address, then a second verified one and an unverified one.
        self.emails: list[dict[str, Any]] = [
            {"email": "Octo@a.example", "primary": True, "verified": True, "visibility": "public"},
            {"email": "work@a.example", "primary": False, "verified": True, "visibility": None},
            {"email": "old@a.example", "primary": False, "verified": False, "visibility": None},
        ]
        # "", "bad_code" (GitHub's 200 + error), "server_error" (a 503 page), "pkce"
        self.tamper = ""
        self.codes: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, str] = {}  # access token -> granted scope
        self.issued_tokens: list[str] = []

    def app(self) -> Litestar:
        github = self

        @get("/login/oauth/authorize", sync_to_thread=False)
        def authorize(request: Request[Any, Any, Any]) -> Redirect:
            query = request.query_params
            assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
            code = secrets.token_hex(10)
            github.codes[code] = {
                "challenge": query["code_challenge"],
                "redirect_uri": query["redirect_uri"],
                "scope": query.get("scope", ""),
            }
            return Redirect(
                f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"
            )

        @post("/login/oauth/access_token")
        async def access_token(request: Request[Any, Any, Any]) -> Response[Any]:
            if github.tamper == "server_error":
                return Response(
                    "<html>Unicorn! This page is taking too long to load.</html>",
                    status_code=503,
                    media_type="text/html",
                )
            form = await request.form()
            grant = github.codes.pop(str(form.get("code")), None)
            answer = github._token_answer(grant, form)
            if "application/json" not in request.headers.get("accept", ""):
                return Response(urlencode(answer), media_type="application/x-www-form-urlencoded")
            return Response(answer, status_code=200)

        @get("/user", sync_to_thread=False)
        def user(request: Request[Any, Any, Any]) -> Response[Any]:
            if github._scope_of(request) is None:
                return _bad_credentials()
            return Response(
                {
                    "login": "octo",
                    "id": github.user_id,
                    "name": "Octo Cat",
                    "email": "public-profile@a.example",  # public, and never verified
                    "type": "User",
                }
            )

        @get("/user/emails", sync_to_thread=False)
        def emails(request: Request[Any, Any, Any]) -> Response[Any]:
            scope = github._scope_of(request)
            if scope is None:
                return _bad_credentials()
            if "user:email" not in scope.replace(",", " ").split():
                return Response({"message": "Not Found"}, status_code=404)
            return Response(github.emails)

        return Litestar([authorize, access_token, user, emails], logging_config=None)

    def _token_answer(self, grant: dict[str, str] | None, form: Any) -> dict[str, str]:
        if self.tamper == "bad_code" or grant is None:
            return {
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
                "error_uri": "https://docs.github.com/apps/troubleshooting",
            }
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return {"error": "incorrect_client_credentials"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return {"error": "redirect_uri_mismatch"}
        verifier = str(form.get("code_verifier", ""))
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if self.tamper == "pkce" or digest.rstrip(b"=").decode() != grant["challenge"]:
            return {"error": "bad_verification_code", "error_description": "PKCE failed"}
        token = f"gho_{secrets.token_hex(18)}"
        self.tokens[token] = grant["scope"]
        self.issued_tokens.append(token)
        return {"access_token": token, "token_type": "bearer", "scope": grant["scope"]}

    def _scope_of(self, request: Request[Any, Any, Any]) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return self.tokens.get(token)


def _bad_credentials() -> Response[Any]:
    return Response(
        {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
        status_code=401,
    )


@asynccontextmanager
async def running_github() -> AsyncIterator[TestGitHub]:
    """Serve the test GitHub on a free loopback port for the duration of the block."""
    github = TestGitHub()
    async with serve_app(github.app()) as url:
        github.url = url
        yield github
