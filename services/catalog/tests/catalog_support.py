"""Fixtures and helpers: the catalog service in-process against the session's NATS and
PostgreSQL, the fake upstream, a callback receiver, and session tokens of two organisations."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import pytest_asyncio
from nats.js import JetStreamContext
from sqlalchemy import text

from hyperstrate_catalog.app import create_app
from hyperstrate_catalog.infrastructure.projections import CatalogProjection
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_catalog.wiring import catalog_event_registry
from hyperstrate_contracts import Event, encode_event
from hyperstrate_contracts.auth import ApiKeyCreated, UserCreated, VirtualKeyCreated
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.database import Database
from hyperstrate_kit.embedded import EmbeddedNats
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.security import generate_key
from hyperstrate_kit.sessions import Principal
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import (
    Infrastructure,
    live_session_token,
    serve_app,
    unique_name,
    users_published_on,
)
from hyperstrate_providers.fake_upstream import FakeUpstream

JWT_SECRET = "catalog-integration-test-secret-catalog"
SECRETS_KEY = "q2Jx1Yt9l0GmD8bWQ7o7c1kz2sD0XcWm3z6b1rJjNqA="
PROVIDER_KEY = "sk-test-provider-key-7f3a9c1e5b2d8f4a"

Client = httpx.AsyncClient


def catalog_environ(
    infrastructure: Infrastructure, database_name: str, **overrides: str
) -> dict[str, str]:
    """The environment of a catalog service (or worker) on the test infrastructure."""
    environ = {
        "DATABASE_URL": infrastructure.database_url,
        "DATABASE_NAME": database_name,
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": JWT_SECRET,
        "SECRETS_KEY": SECRETS_KEY,
        "APP_ENV": "test",
        "OUTBOUND_ALLOW_PRIVATE": "true",  # the fake upstream and receivers are on loopback
        "JOB_ACK_WAIT_SECONDS": "2",
        "JOB_DISPATCH_SWEEP_SECONDS": "0.5",
        "CALLBACK_BACKOFF_SECONDS": "0.05,0.1",
        "LOG_FORMAT": "console",
    }
    environ.update(overrides)
    return environ


@dataclass
class Catalog:
    """A running catalog service: its HTTP client, settings and runtime."""

    client: Client
    settings: CatalogSettings
    environ: dict[str, str]
    #: The service's database, opened on the test's event loop (the app runs on its own).
    database: Database

    def event_store(self) -> EventStore:
        """The service's event store with its projections, on the test's event loop."""
        return EventStore(self.database, catalog_event_registry(), [CatalogProjection()])

    async def stored_events(self, stream_prefix: str = "") -> list[dict[str, Any]]:
        """Every stored event (type, stream, data as text), optionally of some streams."""
        async with self.database.sessions() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT stream_id, type, data::text AS data FROM event_store "
                        "WHERE stream_id LIKE :prefix ORDER BY position"
                    ),
                    {"prefix": f"{stream_prefix}%"},
                )
            ).all()
        return [{"stream_id": r.stream_id, "type": r.type, "data": r.data} for r in rows]


@contextlib.asynccontextmanager
async def running_catalog(
    infrastructure: Infrastructure, **overrides: str
) -> AsyncIterator[Catalog]:
    """A fresh catalog service (its own database) for the block."""
    environ = catalog_environ(infrastructure, unique_name("catalog"), **overrides)
    settings = load_settings(CatalogSettings, environ=environ)
    async with (
        serve_app(create_app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=30.0) as client,
    ):
        database = await Database.open(settings.database_url, settings.database, migrations=[])
        try:
            yield Catalog(client=client, settings=settings, environ=environ, database=database)
        finally:
            await database.close()


@pytest_asyncio.fixture
async def catalog(infrastructure: Infrastructure) -> AsyncIterator[Catalog]:
    """A catalog service on the session's NATS and PostgreSQL."""
    async with running_catalog(infrastructure) as service:
        yield service


@pytest.fixture
def private_nats() -> Iterator[str]:
    """A NATS server of this test alone (the JOBS work queue admits one worker consumer)."""
    root = Path(tempfile.mkdtemp(prefix="catalog-nats-"))
    server = EmbeddedNats(root)
    try:
        with users_published_on(server.start()) as url:  # the test's users live there too
            yield url
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture
async def fake_upstream() -> AsyncIterator[FakeUpstream]:
    """The scriptable fake provider on loopback, recording requests."""
    async with FakeUpstream(record_requests=True) as upstream:
        yield upstream


# -- callers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Org:
    """An organisation's id and its admin's session headers."""

    org_id: str
    user_id: str
    headers: dict[str, str] = field(default_factory=dict)


def new_org(role: str = "admin") -> Org:
    """A fresh organisation with a session token for one of its users."""
    org_id, user_id = unique_name("org"), unique_name("usr")
    token = live_session_token(
        Principal(org_id=org_id, user_id=user_id, role=role),  # type: ignore[arg-type]
        JWT_SECRET,
    )
    return Org(org_id=org_id, user_id=user_id, headers={"Authorization": f"Bearer {token}"})


async def publish_api_key(
    js: JetStreamContext, org: Org, *, role: str = "admin", router_ids: tuple[str, ...] = ()
) -> tuple[str, str]:
    """Act as the auth service: publish a user of `role` and an API key acting for them;
    returns (key id, key)."""
    generated = generate_key("hs_")
    key_id, user_id = unique_name("key"), unique_name("usr")
    events: list[Event] = [
        UserCreated(
            org_id=org.org_id, aggregate_id=user_id, email=f"{user_id}@x.example",
            name="Key owner", role=role,  # type: ignore[arg-type]
        ),
        ApiKeyCreated(
            org_id=org.org_id, aggregate_id=key_id, name="k", prefix=generated.prefix,
            key_hash=generated.hash, user_id=user_id, role=role,  # type: ignore[arg-type]
            router_ids=router_ids,
        ),
    ]  # fmt: skip
    await publish_events(js, events)
    return key_id, generated.key


async def publish_virtual_key(js: JetStreamContext, org: Org) -> tuple[str, str]:
    """Act as the auth service: publish a virtual key; returns (key id, key)."""
    generated = generate_key("hsv_")
    key_id = unique_name("vk")
    created = VirtualKeyCreated(
        org_id=org.org_id, aggregate_id=key_id, name="v", prefix=generated.prefix,
        key_hash=generated.hash, max_requests=100,
    )  # fmt: skip
    await publish_events(js, [created])
    return key_id, generated.key


async def publish_events(js: JetStreamContext, events: list[Event]) -> None:
    """Publish events on the stream as their service's relay does."""
    for event in events:
        await js.publish(event.type, encode_event(event), headers={"Nats-Msg-Id": event.event_id})


async def register(
    client: Client,
    org: Org,
    base_url: str,
    *,
    catalog_key: str = "fake-gpt",
    model: str | None = None,
    api_key: str = PROVIDER_KEY,
    name: str = "fake",
) -> dict[str, Any]:
    """Register a fake-upstream model; returns the registration."""
    body: dict[str, Any] = {
        "name": name,
        "catalogKey": catalog_key,
        "apiKey": api_key,
        "baseUrl": base_url,
    }
    if model is not None:
        body["model"] = model
    response = await client.post("/ai/registrations", headers=org.headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def openai_url(upstream: FakeUpstream) -> str:
    """The fake upstream's OpenAI-style base URL."""
    return upstream.openai_base_url


async def collect_events(nats_url: str, subject: str) -> tuple[list[dict[str, Any]], Any]:
    """Start collecting every message of `subject` (replayed from the stream's start)."""
    nc = await connect_nats(nats_url, "test-collector")
    received: list[dict[str, Any]] = []

    async def on_message(msg: Any) -> None:
        received.append({"subject": msg.subject, **msgspec.json.decode(msg.data)})

    js = nc.jetstream()
    await js.subscribe(subject, cb=on_message, ordered_consumer=True)
    return received, nc


# -- a callback receiver ----------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class CallbackReceiver:
    """An HTTP server on loopback that records POSTs and answers with scripted statuses."""

    def __init__(self, statuses: tuple[int, ...] = ()) -> None:
        self.requests: list[Received] = []
        self._statuses = list(statuses)
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CallbackReceiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hooks/jobs"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *header_lines = head.strip().split("\r\n")
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status = self._statuses.pop(0) if self._statuses else 200
            self.requests.append(Received(request_line.split(" ")[1], headers, body))
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()
