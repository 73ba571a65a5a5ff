"""Pytest plugin: hermetic NATS and PostgreSQL for the whole test session, and helpers.

Enabled for the repository by `-p hyperstrate_kit.testing` in the root pytest options.
Uses `NATS_URL` / `DATABASE_URL` when both are given; otherwise testcontainers when a
Docker engine answers (set `HYPERSTRATE_TEST_CONTAINERS=1`); otherwise the embedded
servers on free ports in a temporary directory (the path that always works).

Redis is started only for sessions that ask for `redis_url`: `REDIS_URL` when given, else
an embedded valkey-server. Tests share it, so each namespaces its keys (`unique_name`).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis

__all__ = ["Infrastructure", "serve_app", "unique_name", "wait_for"]


@dataclass(frozen=True)
class Infrastructure:
    """Where the test session's NATS and PostgreSQL are."""

    nats_url: str
    database_url: str


def unique_name(prefix: str = "t") -> str:
    """A short unique name for databases, streams and consumers of one test."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def wait_for(
    condition: Callable[[], Any | Awaitable[Any]],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> Any:
    """Poll `condition` (sync or async) until it returns a truthy value; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def serve_app(app: Any, timeout: float = 30.0) -> AsyncIterator[str]:
    """Serve an ASGI app on a free loopback port, in its own thread and event loop, with
    its lifespan; yields the base URL. Tests then speak real HTTP to it, as clients do."""
    import threading

    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, name=f"app-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start (see the log above)")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, timeout)


@contextlib.contextmanager
def _embedded() -> Iterator[Infrastructure]:
    root = Path(tempfile.mkdtemp(prefix="hyperstrate-test-"))
    nats_server = EmbeddedNats(root / "nats")
    postgres = EmbeddedPostgres(root / "pg", durable=False)
    try:
        nats_server.start()
        postgres.start()
        yield Infrastructure(nats_url=nats_server.url, database_url=postgres.url)
    finally:
        postgres.stop()
        nats_server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _containers() -> Iterator[Infrastructure]:  # pragma: no cover - needs a Docker engine
    from testcontainers.core.container import DockerContainer
    from testcontainers.postgres import PostgresContainer

    with (
        PostgresContainer("postgres:17-alpine", driver=None) as postgres,
        DockerContainer("nats:2.11-alpine").with_command("-js").with_exposed_ports(4222) as nats,
    ):
        nats_url = f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(4222)}"
        yield Infrastructure(nats_url=nats_url, database_url=postgres.get_connection_url())


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[Infrastructure]:
    """The session's NATS and PostgreSQL (given, containers, or embedded)."""
    nats_url, database_url = os.environ.get("NATS_URL"), os.environ.get("DATABASE_URL")
    if nats_url and database_url:
        yield Infrastructure(nats_url=nats_url, database_url=database_url)
    elif os.environ.get("HYPERSTRATE_TEST_CONTAINERS") == "1":
        with _containers() as infra:
            yield infra
    else:
        with _embedded() as infra:
            yield infra


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The session's Redis: `REDIS_URL` when set, else an embedded valkey-server (no
    persistence) on a free port, stopped at the end of the session."""
    given = os.environ.get("REDIS_URL")
    if given:
        yield given
        return
    root = Path(tempfile.mkdtemp(prefix="hyperstrate-redis-"))
    server = EmbeddedRedis(root)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest_asyncio.fixture
async def database(infrastructure: Infrastructure) -> AsyncIterator[Database]:
    """A fresh database of its own for one test, with the kit's tables."""
    db = await Database.open(infrastructure.database_url, unique_name("db"),
                             migrations=[KIT_MIGRATIONS])  # fmt: skip
    try:
        yield db
    finally:
        await db.close()


@pytest_asyncio.fixture
async def nats_client(infrastructure: Infrastructure) -> AsyncIterator[NatsClient]:
    """A NATS connection for one test."""
    nc = await connect_nats(infrastructure.nats_url, "test")
    try:
        yield nc
    finally:
        await nc.drain()
