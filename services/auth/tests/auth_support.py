"""Fixtures: the auth service running in-process against the session's NATS and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio

from hyperstrate_auth.app import create_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name

ADMIN_PASSWORD = "correct horse battery"


@pytest_asyncio.fixture
async def auth_client(infrastructure: Infrastructure) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of a fresh auth service (its own database), over a real socket."""
    settings = load_settings(
        AuthSettings,
        environ={
            "DATABASE_URL": infrastructure.database_url,
            "DATABASE_NAME": unique_name("auth"),
            "NATS_URL": infrastructure.nats_url,
            "JWT_SECRET": "integration-test-secret-integration-test",
            "ADMIN_EMAIL": "operator@example.com",
        },
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


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
