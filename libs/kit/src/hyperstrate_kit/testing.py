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
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient

from hyperstrate_contracts import AUTH, encode_event
from hyperstrate_contracts.auth import UserCreated
from hyperstrate_kit.bus import connect_nats, provision_streams
from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.embedded import EmbeddedNats, EmbeddedPostgres, EmbeddedRedis
from hyperstrate_kit.sessions import Principal, issue_access_token

__all__ = [
    "Infrastructure",
    "RestartablePostgres",
    "fast_shutdown_postgres",
    "live_session_token",
    "serve_app",
    "unique_name",
    "users_published_on",
    "wait_for",
]


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
    # proxy_headers=False as `python -m` serves it: the client is the socket's peer, never
    # what a loopback caller's X-Forwarded-For says (the services judge that header).
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None,
                                           access_log=False, lifespan="on",
                                           proxy_headers=False))  # fmt: skip
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


class _UserPublisher:
    """Publishes users on the AUTH stream as the auth service's relay would, from a thread
    of its own, so that sync test helpers can make the users their tokens name real."""

    def __init__(self, nats_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-users",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        self._nc: NatsClient = self._run(connect_nats(nats_url, "test-users"))
        self._run(provision_streams(self._nc.jetstream(), [AUTH]))

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)  # type: ignore[arg-type]

    def publish_user(self, principal: Principal) -> None:
        created = UserCreated(org_id=principal.org_id, aggregate_id=principal.user_id,
                              email=principal.email or f"{principal.user_id}@test.example",
                              name=principal.user_id, role=principal.role)  # fmt: skip
        self._run(self._nc.jetstream().publish(
            created.type, encode_event(created), headers={"Nats-Msg-Id": created.event_id}
        ))  # fmt: skip

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self._nc.drain())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


# The NATS servers services under test follow AUTH on (the session's, and any a test starts
# for itself), each with its publisher once a token was asked for.
_user_publishers: dict[str, _UserPublisher | None] = {}


def live_session_token(principal: Principal, secret: str) -> str:
    """A session token for `principal`, whose user is published on the AUTH stream first
    (of the session's NATS and of those `users_published_on` names): services honour only
    tokens of users they know."""
    if not _user_publishers:
        raise RuntimeError("live_session_token needs the `infrastructure` fixture")
    for nats_url, publisher in list(_user_publishers.items()):
        if publisher is None:
            publisher = _user_publishers[nats_url] = _UserPublisher(nats_url)
        publisher.publish_user(principal)
    return issue_access_token(principal, secret)


@contextlib.contextmanager
def users_published_on(nats_url: str) -> Iterator[str]:
    """Within the block, `live_session_token` also publishes its users on `nats_url` (a NATS
    server of the test's own, which the session's users never reach)."""
    _user_publishers.setdefault(nats_url, None)
    try:
        yield nats_url
    finally:
        publisher = _user_publishers.pop(nats_url, None)
        if publisher is not None:
            publisher.close()


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
        given = Infrastructure(nats_url=nats_url, database_url=database_url)
        with users_published_on(given.nats_url):
            yield given
    elif os.environ.get("HYPERSTRATE_TEST_CONTAINERS") == "1":
        with _containers() as started, users_published_on(started.nats_url):
            yield started
    else:
        with _embedded() as started, users_published_on(started.nats_url):
            yield started


class RestartablePostgres:
    """A PostgreSQL of one test's own, which the test stops (fast shutdown) and starts again
    on the same port with the same data, as an operator restarting the database would."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedPostgres(data_dir, durable=False)

    @property
    def url(self) -> str:
        """The server's URL (unchanged across restarts)."""
        return self.server.url

    async def stop(self) -> None:
        """Fast shutdown: open sessions are cut, as when PostgreSQL restarts."""
        await asyncio.to_thread(self.server.stop)

    async def start(self) -> None:
        """Start it (again) and wait until it accepts connections."""
        await asyncio.to_thread(self.server.start)


@pytest_asyncio.fixture
async def restartable_postgres() -> AsyncIterator[RestartablePostgres]:
    """A running PostgreSQL of the test's own that it may stop and start again."""
    # Not under pytest's tmp_path: a pytest session starting meanwhile makes its root 0700
    # again, and the server (another user under root) could not reach its data to restart.
    root = Path(tempfile.mkdtemp(prefix="hyperstrate-restartable-pg-"))
    postgres = RestartablePostgres(root)
    await postgres.start()
    try:
        yield postgres
    finally:
        await postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


async def fast_shutdown_postgres(cluster_dir: Path, timeout: float = 30.0) -> None:
    """Stop the PostgreSQL whose cluster is `cluster_dir` (a process another program
    started, such as the devstack's) with a fast shutdown, and wait until it has exited."""
    pid_file = cluster_dir / "postmaster.pid"
    pid = int(pid_file.read_text().splitlines()[0])
    os.kill(pid, signal.SIGINT)
    # The server removes its pid file as its last act (the process may linger as a zombie
    # of its parent, so its pid is no sign).
    await wait_for(lambda: not pid_file.exists(), timeout=timeout, interval=0.05,
                   message=f"postgres {pid} to shut down")  # fmt: skip


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
