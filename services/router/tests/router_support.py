"""Fixtures and helpers: the router service (admin API) running in-process against the
session's NATS and PostgreSQL, session tokens minted for any organisation, and catalog
registrations published on the CATALOG stream as the catalog would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import Event
from hyperstrate_contracts.catalog import RegistrationCreated, RegistrationDeleted
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.sessions import Principal
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import (
    Infrastructure,
    live_session_token,
    serve_app,
    unique_name,
    wait_for,
)
from hyperstrate_router.app import REGISTRATION_DIRECTORY, create_app
from hyperstrate_router.infrastructure.registration_directory import RegistrationDirectory
from hyperstrate_router.settings import RouterSettings

JWT_SECRET = "router-integration-test-secret-0123456789"


def router_environ(infrastructure: Infrastructure, database_name: str) -> dict[str, str]:
    """The environment of a router service on the test session's servers."""
    return {
        "DATABASE_URL": infrastructure.database_url,
        "DATABASE_NAME": database_name,
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": JWT_SECRET,
        "APP_ENV": "test",
        "LOG_FORMAT": "console",
    }


@dataclass
class RouterApp:
    """A running router service: its HTTP client, the app, and a NATS connection of the test's
    own (on the test's event loop) to publish catalog events and read the ROUTER stream."""

    client: httpx.AsyncClient
    app: Any
    nc: NatsClient
    environ: dict[str, str]

    @property
    def directory(self) -> RegistrationDirectory:
        """The service's view of the catalog's registrations."""
        directory: RegistrationDirectory = self.app.state.runtime.services[REGISTRATION_DIRECTORY]
        return directory

    async def publish(self, *events: Event) -> None:
        """Publish events on their streams, as their owning service's relay would."""
        js = self.nc.jetstream()
        for event in events:
            await js.publish(
                event.type, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
            )

    async def register_model(self, org_id: str, name: str = "gpt") -> str:
        """A new catalog registration of `org_id`, once this router service knows it."""
        registration_id = f"reg_{uuid.uuid4().hex}"
        await self.publish(
            RegistrationCreated(
                org_id=org_id,
                aggregate_id=registration_id,
                name=name,
                catalog_key="openai/gpt-4o-mini",
                provider="openai",
                model="gpt-4o-mini",
            )
        )
        await wait_for(
            lambda: self.directory.owners.get(registration_id) == org_id,
            message=f"registration {registration_id} to reach the router",
        )
        return registration_id

    async def unregister_model(self, org_id: str, registration_id: str) -> None:
        """Delete a catalog registration, once this router service knows it."""
        await self.publish(RegistrationDeleted(org_id=org_id, aggregate_id=registration_id))
        await wait_for(
            lambda: registration_id not in self.directory.owners,
            message=f"deletion of {registration_id} to reach the router",
        )


@pytest_asyncio.fixture
async def router_app(infrastructure: Infrastructure) -> AsyncIterator[RouterApp]:
    """A fresh router service (its own database) over a real socket."""
    environ = router_environ(infrastructure, unique_name("router"))
    app = create_app(load_settings(RouterSettings, environ=environ))
    nc = await connect_nats(infrastructure.nats_url, "router-test")
    try:
        async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
            yield RouterApp(client=client, app=app, nc=nc, environ=environ)
    finally:
        await nc.drain()


def new_org() -> str:
    """A new organisation id (organisations live in the auth service)."""
    return f"org_{uuid.uuid4().hex[:12]}"


def admin_of(org_id: str, role: str = "admin") -> dict[str, str]:
    """Authorization headers of an admin (or member) of `org_id`."""
    principal = Principal(
        org_id=org_id,
        user_id=f"usr_{uuid.uuid4().hex[:12]}",
        role="admin" if role == "admin" else "member",
    )
    return {"Authorization": f"Bearer {live_session_token(principal, JWT_SECRET)}"}


async def create_router(
    client: httpx.AsyncClient, headers: dict[str, str], **body: Any
) -> dict[str, Any]:
    """A new router (a unique name unless given); fails the test unless it is created."""
    body.setdefault("name", f"router-{uuid.uuid4().hex[:8]}")
    response = await client.post("/routers", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def post_ok(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    """POST that must create (201); returns the body."""
    response = await client.post(path, headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())
