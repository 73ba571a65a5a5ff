"""Fixtures: the auth service running in-process against the session's NATS and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from hyperstrate_auth.app import create_app
from hyperstrate_auth.cli import operator_create_organization
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_contracts import Event
from hyperstrate_contracts.events import encode_event
from hyperstrate_contracts.router import RouterCreated, RouterDeleted
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name

ADMIN_PASSWORD = "correct horse battery"


def auth_environment(infrastructure: Infrastructure, **extra: str) -> dict[str, str]:
    """The environment of a fresh auth service (its own database)."""
    return {
        "DATABASE_URL": infrastructure.database_url,
        "DATABASE_NAME": unique_name("auth"),
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": "integration-test-secret-integration-test",
        "ADMIN_EMAIL": "operator@example.com",
        **extra,
    }


@pytest.fixture
def auth_settings(infrastructure: Infrastructure) -> AuthSettings:
    """The settings of the test's auth service (`auth_client` serves these)."""
    return load_settings(AuthSettings, environ=auth_environment(infrastructure))


@pytest_asyncio.fixture
async def auth_client(auth_settings: AuthSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a fresh auth service (its own database), over a real socket."""
    app = create_app(auth_settings)
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def operator_org(
    settings: AuthSettings, name: str, admin_email: str, password: str = ADMIN_PASSWORD
) -> str:
    """Another organisation, made as the operator does (the CLI's code); its id."""
    org, _ = await operator_create_organization(settings, name, admin_email, password, "k")
    return org.id


async def publish_router(
    infrastructure: Infrastructure, org_id: str, router_id: str = "", *, deleted: bool = False
) -> str:
    """A router of `org_id` created (or deleted) on the ROUTER stream, as the router
    service publishes it; its id."""
    router_id = router_id or unique_name("rtr")
    event: Event = (
        RouterDeleted(org_id=org_id, aggregate_id=router_id)
        if deleted
        else RouterCreated(org_id=org_id, aggregate_id=router_id, name=router_id)
    )
    nc = await connect_nats(infrastructure.nats_url, "test-router-events")
    try:
        await nc.jetstream().publish(
            event.type, encode_event(event), headers={"Nats-Msg-Id": event.event_id}
        )
    finally:
        await nc.drain()
    return router_id


async def setup_admin(client: httpx.AsyncClient, email: str = "admin@a.example") -> dict[str, Any]:
    """Run the initial setup; returns the session."""
    response = await client.post(
        "/auth/setup",
        json={
            "organizationName": "Org A",
            "email": email,
            "password": ADMIN_PASSWORD,
            "name": "Ada",
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def bearer(session: dict[str, Any]) -> dict[str, str]:
    """The Authorization header of a session."""
    return {"Authorization": f"Bearer {session['accessToken']}"}
