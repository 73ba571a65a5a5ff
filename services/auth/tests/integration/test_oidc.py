"""OIDC login against a real (test) provider: PKCE, state, nonce, signature, audience, expiry."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
from auth_support import ADMIN_PASSWORD, bearer, operator_org, setup_admin
from oidc_provider import CLIENT_ID, CLIENT_SECRET, TestOidcProvider, running_oidc_provider

from hyperstrate_auth.app import create_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name

FRONTEND = "http://app.example"


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[TestOidcProvider]:
    async with running_oidc_provider() as running:
        yield running


@contextlib.asynccontextmanager
async def auth_with_oidc(
    infrastructure: Infrastructure,
    provider: TestOidcProvider,
    database: str,
    organization_id: str = "",
) -> AsyncIterator[httpx.AsyncClient]:
    """The auth service with the test provider configured."""
    config = {
        "test": {
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "issuer": provider.issuer,
            "organizationId": organization_id,
        }
    }
    settings = load_settings(
        AuthSettings,
        environ={
            "DATABASE_URL": infrastructure.database_url,
            "DATABASE_NAME": database,
            "NATS_URL": infrastructure.nats_url,
            "JWT_SECRET": "oidc-test-secret-oidc-test-secret",
            "FRONTEND_URL": FRONTEND,
            "OIDC_PROVIDERS": "test",
            "OIDC_PROVIDER_SETTINGS": json.dumps(config),
        },
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def _login(client: httpx.AsyncClient) -> httpx.Response:
    """The browser's steps: our login redirect, the provider's authorize redirect, our callback."""
    start = await client.get("/auth/oidc/test/login")
    assert start.status_code == 302, start.text
    at_provider = await client.get(start.headers["location"])
    assert at_provider.status_code in (302, 307)
    return await client.get(at_provider.headers["location"])


def _session(response: httpx.Response) -> dict[str, Any]:
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{FRONTEND}/auth/callback"
    return {key: values[0] for key, values in parse_qs(location.fragment).items()}


async def test_existing_user_logs_in_with_pkce_and_lands_on_the_frontend(
    infrastructure: Infrastructure, provider: TestOidcProvider
) -> None:
    async with auth_with_oidc(infrastructure, provider, unique_name("oidc")) as client:
        admin = bearer(await setup_admin(client))
        await client.post(
            "/auth/users",
            headers=admin,
            json={"email": "OIDC-user@a.example", "password": ADMIN_PASSWORD, "name": "Pre-made"},
        )
        response = await _login(client)
        assert response.status_code == 302, response.text
        session = _session(response)
        me = await client.get(
            "/auth/me", headers={"Authorization": f"Bearer {session['access_token']}"}
        )
        assert me.json()["email"] == "oidc-user@a.example" and me.json()["name"] == "Pre-made"


async def test_unknown_email_is_created_in_the_configured_org_or_refused(
    infrastructure: Infrastructure, provider: TestOidcProvider
) -> None:
    database = unique_name("oidc")
    async with auth_with_oidc(infrastructure, provider, database) as refusing:
        session = await setup_admin(refusing)
        assert (await _login(refusing)).status_code == 403
    org_id = session["user"]["orgId"]
    async with auth_with_oidc(infrastructure, provider, database, org_id) as welcoming:
        created = _session(await _login(welcoming))
        me = (
            await welcoming.get(
                "/auth/me", headers={"Authorization": f"Bearer {created['access_token']}"}
            )
        ).json()
        assert (me["email"], me["role"], me["orgId"]) == ("oidc-user@a.example", "member", org_id)


@pytest.mark.parametrize("tamper", ["nonce", "expired", "audience", "foreign_key", "pkce"])
async def test_untrustworthy_answers_are_refused(
    infrastructure: Infrastructure, provider: TestOidcProvider, tamper: str
) -> None:
    async with auth_with_oidc(infrastructure, provider, unique_name("oidc")) as client:
        admin = bearer(await setup_admin(client))
        await client.post(
            "/auth/users",
            headers=admin,
            json={"email": provider.email, "password": ADMIN_PASSWORD, "name": "U"},
        )
        provider.tamper = tamper
        response = await _login(client)
        assert response.status_code == 401, (tamper, response.text)
        assert "access_token" not in response.text


async def test_state_is_single_use_and_unknown_providers_are_404(
    infrastructure: Infrastructure, provider: TestOidcProvider
) -> None:
    async with auth_with_oidc(infrastructure, provider, unique_name("oidc")) as client:
        await setup_admin(client)
        start = await client.get("/auth/oidc/test/login")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        forged = await client.get(f"/auth/oidc/test/callback?code=x&state=not-{state}")
        assert forged.status_code == 400 and "state" in forged.json()["fields"]
        assert (await client.get("/auth/oidc/nope/login")).status_code == 404
        denied = await client.get(f"/auth/oidc/test/callback?error=access_denied&state={state}")
        assert denied.status_code == 401
        # A completed login cannot be replayed with the same state.
        at_provider = await client.get(start.headers["location"])
        callback = at_provider.headers["location"]
        assert (await client.get(callback)).status_code in (302, 403)
        assert (await client.get(callback)).status_code == 400


async def test_an_email_in_several_organizations_logs_in_where_the_provider_says(
    infrastructure: Infrastructure, provider: TestOidcProvider
) -> None:
    database = unique_name("oidc")
    async with auth_with_oidc(infrastructure, provider, database) as client:
        admin = bearer(await setup_admin(client))
        user = {"email": provider.email, "password": ADMIN_PASSWORD, "name": "In A"}
        assert (await client.post("/auth/users", headers=admin, json=user)).status_code == 201
        operator = AuthSettings(
            database_url=infrastructure.database_url,
            database_name=database,
            nats_url=infrastructure.nats_url,
            jwt_secret="oidc-test-secret-oidc-test-secret",
        )
        b_org = await operator_org(operator, "Org B", "admin@b.example")
        b_admin = bearer(
            (
                await client.post(
                    "/auth/login", json={"email": "admin@b.example", "password": ADMIN_PASSWORD}
                )
            ).json()
        )
        user["name"] = "In B"
        assert (await client.post("/auth/users", headers=b_admin, json=user)).status_code == 201
        # A provider of no organisation: the oldest account with the e-mail.
        answer = await _login(client)
        assert answer.headers["cache-control"] == "no-store"  # the redirect carries tokens
        token = _session(answer)["access_token"]
        me = (await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})).json()
        assert me["name"] == "In A"
    # A provider of organisation B: B's account, never A's.
    async with auth_with_oidc(infrastructure, provider, database, b_org) as client:
        token = _session(await _login(client))["access_token"]
        me = (await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})).json()
        assert (me["name"], me["orgId"]) == ("In B", b_org)
