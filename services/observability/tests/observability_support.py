"""Fixtures and helpers: the observability service in-process on the session's NATS and
PostgreSQL, inference events to publish, and a webhook receiver that can be down."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from hyperstrate_contracts import AUTH, INFERENCE, OBSERVABILITY, ROUTER, Event
from hyperstrate_contracts.auth import TeamCreated, VirtualKeyCreated
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_contracts.router import RouterCreated
from hyperstrate_kit.bus import provision_streams
from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.sessions import Principal
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, live_session_token, unique_name
from hyperstrate_observability.app import MIGRATIONS, create_app
from hyperstrate_observability.application.ports import HealthProbe, RegistrationSource
from hyperstrate_observability.infrastructure.registrations import StaticRegistrations
from hyperstrate_observability.settings import ObservabilitySettings

JWT_SECRET = "observability-integration-test-secret-0123"
Client = AsyncTestClient[Litestar]


def settings_env(infrastructure: Infrastructure, **overrides: str) -> dict[str, str]:
    """The environment of an observability service with its own database and consumers."""
    env = {
        "DATABASE_URL": infrastructure.database_url,
        "DATABASE_NAME": unique_name("obs"),
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": JWT_SECRET,
        "CONSUMER_PREFIX": unique_name("obs").replace("_", "-"),
        "OUTBOUND_ALLOW_PRIVATE": "true",
        "WEBHOOK_BACKOFF_SECONDS": "0.2,0.4",
        "WEBHOOK_TIMEOUT_SECS": "2",
        "LOG_ACK_WAIT_SECS": "5",
        "HEALTH_CHECK_INTERVAL_SECS": "3600",
    }
    env.update(overrides)
    return env


@pytest_asyncio.fixture
async def observability_settings(infrastructure: Infrastructure) -> ObservabilitySettings:
    """Settings with a database and consumer names of the test's own."""
    return load_settings(ObservabilitySettings, environ=settings_env(infrastructure))


async def fresh_inference_stream(js: JetStreamContext) -> None:
    """An empty INFERENCE stream, so a new consumer does not replay earlier tests' events."""
    await provision_streams(js, [INFERENCE, OBSERVABILITY])
    await js.purge_stream(INFERENCE.name)


@contextlib.asynccontextmanager
async def running(
    settings: ObservabilitySettings,
    registrations: RegistrationSource | None = None,
    probe: HealthProbe | None = None,
) -> AsyncIterator[Client]:
    """An HTTP client of a running service (no registrations to probe unless given)."""
    app = create_app(settings, registrations or StaticRegistrations(), probe)
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest_asyncio.fixture
async def observability_client(
    observability_settings: ObservabilitySettings, nats_client: NatsClient
) -> AsyncIterator[Client]:
    """A running observability service on an empty INFERENCE stream."""
    await fresh_inference_stream(nats_client.jetstream())
    async with running(observability_settings) as client:
        yield client


@contextlib.asynccontextmanager
async def database_of(settings: ObservabilitySettings) -> AsyncIterator[Database]:
    """The service's database, from the test's own event loop."""
    database = await Database.open(
        settings.database_url, settings.database, migrations=[KIT_MIGRATIONS, *MIGRATIONS]
    )
    try:
        yield database
    finally:
        await database.close()


def admin_of(org_id: str, role: str = "admin") -> dict[str, str]:
    """Authorization headers of an admin (or member) of `org_id`."""
    principal = Principal(
        org_id=org_id,
        user_id=f"usr_{uuid.uuid4().hex[:12]}",
        role="admin" if role == "admin" else "member",
    )
    return {"Authorization": f"Bearer {live_session_token(principal, JWT_SECRET)}"}


def new_org() -> str:
    """A fresh organisation id."""
    return f"org_{uuid.uuid4().hex[:12]}"


def completed(org_id: str, **fields: Any) -> InferenceCompleted:
    """An `inference.completed` event with plausible defaults."""
    request_id = fields.pop("request_id", f"req_{uuid.uuid4().hex}")
    values: dict[str, Any] = {
        "router_id": "router-a",
        "target_id": "target-1",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 100,
        "output_tokens": 20,
        "cost_usd": 0.000123,
        "latency_ms": 250.0,
    }
    values.update(fields)
    return InferenceCompleted(
        org_id=org_id, aggregate_id=request_id, request_id=request_id, **values
    )


def failed(org_id: str, **fields: Any) -> InferenceFailed:
    """An `inference.failed` event."""
    request_id = fields.pop("request_id", f"req_{uuid.uuid4().hex}")
    values: dict[str, Any] = {
        "router_id": "router-a",
        "provider": "anthropic",
        "model": "claude-haiku",
        "status_code": 502,
        "error_class": "server_error",
        "error_message": "upstream failed",
        "latency_ms": 900.0,
    }
    values.update(fields)
    return InferenceFailed(org_id=org_id, aggregate_id=request_id, request_id=request_id, **values)


async def publish(
    js: JetStreamContext, events: Iterable[Event], *, concurrency: int = 256, dedupe: bool = True
) -> None:
    """Publish events like the router does (`Nats-Msg-Id` = event id unless `dedupe` is off)."""
    pending: set[asyncio.Future[Any]] = set()
    for event in events:
        headers = {"Nats-Msg-Id": event.event_id} if dedupe else None
        pending.add(
            asyncio.ensure_future(
                js.publish(event.type, msgspec.json.encode(event), headers=headers)
            )
        )
        if len(pending) >= concurrency:
            _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if pending:
        await asyncio.gather(*pending)


async def announce_owned(
    js: JetStreamContext, org_id: str, kind: str, resource_id: str | None = None
) -> str:
    """A team, virtual key or router of `org_id`, announced as its service does (AUTH or
    ROUTER stream); returns its id (a fresh one unless given)."""
    prefix = {"team": "team", "virtual_key": "vk", "router": "rtr"}[kind]
    resource_id = resource_id or f"{prefix}_{uuid.uuid4().hex}"
    event: Event
    if kind == "team":
        event = TeamCreated(org_id=org_id, aggregate_id=resource_id, name=resource_id)
    elif kind == "virtual_key":
        event = VirtualKeyCreated(
            org_id=org_id, aggregate_id=resource_id, name=resource_id, prefix="hsv_x", key_hash="0"
        )
    else:
        event = RouterCreated(org_id=org_id, aggregate_id=resource_id, name=resource_id)
    await provision_streams(js, [AUTH, ROUTER])
    await publish(js, [event])
    return resource_id


# -- a webhook receiver ----------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: datetime


@dataclass
class WebhookReceiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records POSTs; `stop()` takes it down
    (connections are refused), `start()` brings it back on the same port."""

    port: int
    status: int = 200
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/inference"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def event_ids(self) -> list[str]:
        return [r.headers["x-hyperstrate-event-id"] for r in self.received]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    break
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = self.status
                if status < 300:
                    self.received.append(Received(headers, body, datetime.now()))
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode("latin-1"))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def ids(events: Sequence[Event]) -> set[str]:
    """The event ids of some events."""
    return {event.event_id for event in events}
