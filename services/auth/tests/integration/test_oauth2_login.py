"""GitHub-style OAuth2 login against a loopback GitHub: the identity comes from `/user`,
the email from `/user/emails` (verified only), with state and PKCE as for OIDC."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from auth_support import ADMIN_PASSWORD, bearer, setup_admin
from github_provider import CLIENT_ID, CLIENT_SECRET, PRIMARY_EMAIL, TestGitHub, running_github

from hyperstrate_auth.app import create_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name

FRONTEND = "http://app.example"


@pytest_asyncio.fixture
async def github() -> AsyncIterator[TestGitHub]:
    async with running_github() as running:
        yield running


def github_preset(github: TestGitHub, organization_id: str = "") -> dict[str, Any]:
    """`github` without a kind: the preset, its URLs pointed at the loopback GitHub."""
    return {
        "github": {
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "authorizeUrl": f"{github.url}/login/oauth/authorize",
            "tokenUrl": f"{github.url}/login/oauth/access_token",
            "userinfoUrl": f"{github.url}/user",
            "emailsUrl": f"{github.url}/user/emails",
            "organizationId": organization_id,
        }
    }


@contextlib.asynccontextmanager
async def auth_with_providers(
    infrastructure: Infrastructure, providers: dict[str, Any], database: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth service with these login providers configured."""
    settings = load_settings(
        AuthSettings,
        environ={
            "DATABASE_URL": infrastructure.database_url,
            "DATABASE_NAME": database,
            "NATS_URL": infrastructure.nats_url,
            "JWT_SECRET": "oauth2-test-secret-oauth2-test-secret",
            "FRONTEND_URL": FRONTEND,
            "OIDC_PROVIDERS": ",".join(providers),
            "OIDC_PROVIDER_SETTINGS": json.dumps(providers),
        },
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def _login(client: httpx.AsyncClient, provider: str = "github") -> httpx.Response:
    """The browser's steps: our login redirect, GitHub's authorize redirect, our callback."""
    start = await client.get(f"/auth/oidc/{provider}/login")
    assert start.status_code == 302, start.text
    at_github = await client.get(start.headers["location"])
    assert at_github.status_code in (302, 307), at_github.text
    return await client.get(at_github.headers["location"])


async def _me(client: httpx.AsyncClient, response: httpx.Response) -> dict[str, Any]:
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{FRONTEND}/auth/callback"
    session = {key: values[0] for key, values in parse_qs(location.fragment).items()}
    me = await client.get(
        "/auth/me", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert me.status_code == 200, me.text
    return dict(me.json())


async def test_github_login_creates_a_member_with_the_verified_primary_email(
    infrastructure: Infrastructure, github: TestGitHub
) -> None:
    database = unique_name("oauth2")
    async with auth_with_providers(infrastructure, github_preset(github), database) as refusing:
        session = await setup_admin(refusing)
        refused = await _login(refusing)
        assert refused.status_code == 403 and "access_token" not in refused.text
    org_id = session["user"]["orgId"]
    async with auth_with_providers(
        infrastructure, github_preset(github, org_id), database
    ) as welcoming:
        first = await _login(welcoming)
        assert first.status_code == 302, first.text
        me = await _me(welcoming, first)
        assert (me["email"], me["name"], me["role"], me["orgId"]) == (
            PRIMARY_EMAIL,
            "Octo Cat",
            "member",
            org_id,
        )
        # The next login finds the same account instead of making another.
        assert (await _me(welcoming, await _login(welcoming)))["id"] == me["id"]


async def test_an_existing_user_is_matched_by_the_verified_email(
    infrastructure: Infrastructure, github: TestGitHub
) -> None:
    async with auth_with_providers(
        infrastructure, github_preset(github), unique_name("oauth2")
    ) as client:
        admin = bearer(await setup_admin(client))
        created = await client.post(
            "/auth/users",
            headers=admin,
            json={"email": "work@a.example", "password": ADMIN_PASSWORD, "name": "Pre-made"},
        )
        assert created.status_code == 201, created.text
        # Primary unverified: the other verified address is the identity.
        github.emails[0]["verified"] = False
        me = await _me(client, await _login(client))
        assert (me["email"], me["name"]) == ("work@a.example", "Pre-made")


@pytest.mark.parametrize(
    "emails",
    [
        [{"email": PRIMARY_EMAIL, "primary": True, "verified": False, "visibility": "public"}],
        [],
    ],
    ids=["unverified", "none"],
)
async def test_no_verified_email_is_refused(
    infrastructure: Infrastructure, github: TestGitHub, emails: list[dict[str, Any]]
) -> None:
    async with auth_with_providers(
        infrastructure, github_preset(github), unique_name("oauth2")
    ) as client:
        admin = bearer(await setup_admin(client))
        await client.post(
            "/auth/users",
            headers=admin,
            json={"email": PRIMARY_EMAIL, "password": ADMIN_PASSWORD, "name": "U"},
        )
        github.emails = emails
        response = await _login(client)
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "the identity provider gave no verified email"


async def test_a_public_profile_email_is_not_trusted_without_an_emails_endpoint(
    infrastructure: Infrastructure, github: TestGitHub
) -> None:
    generic = {
        "forge": {
            "kind": "oauth2",
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "authorizeUrl": f"{github.url}/login/oauth/authorize",
            "tokenUrl": f"{github.url}/login/oauth/access_token",
            "userinfoUrl": f"{github.url}/user",
        }
    }
    async with auth_with_providers(infrastructure, generic, unique_name("oauth2")) as client:
        admin = bearer(await setup_admin(client))
        await client.post(
            "/auth/users",
            headers=admin,
            json={"email": "public-profile@a.example", "password": ADMIN_PASSWORD, "name": "U"},
        )
        response = await _login(client, "forge")
        assert response.status_code == 401, response.text
        assert "verified email" in response.json()["error"]


async def test_state_is_checked_and_single_use(
    infrastructure: Infrastructure, github: TestGitHub
) -> None:
    async with auth_with_providers(
        infrastructure, github_preset(github), unique_name("oauth2")
    ) as client:
        admin = bearer(await setup_admin(client))
        await client.post(
            "/auth/users",
            headers=admin,
            json={"email": PRIMARY_EMAIL, "password": ADMIN_PASSWORD, "name": "U"},
        )
        start = await client.get("/auth/oidc/github/login")
        callback = (await client.get(start.headers["location"])).headers["location"]
        query = parse_qs(urlsplit(callback).query)
        code, state = query["code"][0], query["state"][0]
        forged = await client.get(f"/auth/oidc/github/callback?code={code}&state={state}x")
        assert forged.status_code == 400 and "state" in forged.json()["fields"]
        assert (await client.get(callback)).status_code == 302
        replayed = await client.get(callback)
        assert replayed.status_code == 400 and "state" in replayed.json()["fields"]


@pytest.mark.parametrize(
    ("tamper", "status", "error"),
    [
        ("bad_code", 401, "the identity provider refused the login"),
        ("pkce", 401, "the identity provider refused the login"),
        ("server_error", 502, "the identity provider answered with an error; try again later"),
    ],
)
async def test_token_endpoint_failures_are_clear_and_keep_secrets(
    infrastructure: Infrastructure,
    github: TestGitHub,
    caplog: pytest.LogCaptureFixture,
    tamper: str,
    status: int,
    error: str,
) -> None:
    async with auth_with_providers(
        infrastructure, github_preset(github), unique_name("oauth2")
    ) as client:
        admin = bearer(await setup_admin(client))
        await client.post(
            "/auth/users",
            headers=admin,
            json={"email": PRIMARY_EMAIL, "password": ADMIN_PASSWORD, "name": "U"},
        )
        github.tamper = tamper
        with caplog.at_level(logging.INFO):
            response = await _login(client)
        assert response.status_code == status, response.text
        assert response.json()["error"] == error
        assert "login through github" in caplog.text  # the operator hears of it ...
        for secret in (CLIENT_SECRET, *github.issued_tokens):  # ... but no secret does
            assert secret not in response.text and secret not in caplog.text


async def test_an_unreachable_token_endpoint_is_a_502(
    infrastructure: Infrastructure, github: TestGitHub
) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    providers = github_preset(github)
    providers["github"]["tokenUrl"] = f"http://127.0.0.1:{closed_port}/login/oauth/access_token"
    async with auth_with_providers(infrastructure, providers, unique_name("oauth2")) as client:
        await setup_admin(client)
        response = await _login(client)
        assert response.status_code == 502, response.text
        assert response.json()["error"] == (
            "the identity provider could not be reached; try again later"
        )
