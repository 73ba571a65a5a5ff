"""A service's runtime and entry point: lifespan, background work, `python -m` commands.

Each service declares a `ServiceDefinition` once; `run_cli(definition)` gives it the
commands `serve` (default), `migrate` and `rebuild`. The lifespan opens the database
(migrations applied), connects NATS, provisions streams and consumers, starts the outbox
relay and the service's own start hooks, and drains everything in reverse on shutdown.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import logging
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from litestar import Litestar
from litestar.di import Provide
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from hyperstrate_contracts import STREAMS, ConsumerSpec, Event, EventRegistry, StreamSpec
from hyperstrate_contracts.auth import auth_registry
from hyperstrate_kit.actors import acting_as, system_actor
from hyperstrate_kit.bus import (
    ConsumerRunner,
    StreamFollower,
    connect_nats,
    provision_consumer,
    provision_streams,
)
from hyperstrate_kit.database import KIT_MIGRATIONS, Database, MigrationSet
from hyperstrate_kit.eventstore import EventStore, Projection
from hyperstrate_kit.http import ReadinessCheck, create_http_app
from hyperstrate_kit.logs import configure_logging
from hyperstrate_kit.relay import OutboxRelay
from hyperstrate_kit.sessions import LiveSessions
from hyperstrate_kit.settings import ServiceSettings, SettingsError, load_settings
from hyperstrate_kit.supervisor import SupervisedTask
from hyperstrate_kit.telemetry import configure_tracing

__all__ = ["Runtime", "ServiceDefinition", "create_service_app", "run_cli"]

log = logging.getLogger(__name__)
S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")


def _no_routes(_runtime: Runtime[Any]) -> Sequence[Any]:
    return ()


@dataclass
class ServiceDefinition(Generic[S]):
    """Everything the kit needs to know to run one service."""

    name: str
    settings_type: type[S]
    #: The service's own Alembic scripts (after the kit's); None: the service has no database.
    migrations: Sequence[MigrationSet] | None = ()
    registry: EventRegistry = field(default_factory=EventRegistry)
    projections: Callable[[], Sequence[Projection]] = lambda: ()
    route_handlers: Callable[[Runtime[S]], Sequence[Any]] = _no_routes
    streams: Sequence[StreamSpec] = STREAMS
    consumers: Sequence[ConsumerSpec] = ()
    #: Run at start-up, after NATS and the database: start followers, consumers, responders.
    on_start: Sequence[Callable[[Runtime[S]], Awaitable[None]]] = ()
    #: Names of application services (built by start hooks) that handlers take as dependencies.
    provides: Sequence[str] = ()
    #: Wraps the Litestar app in a faster ASGI front for hot routes (the gateway's inference).
    wrap: Callable[[Runtime[S], Litestar], Any] | None = None
    #: Follow the AUTH stream into `runtime.sessions` (the users session tokens are checked
    #: against); None: when the service serves routes (a worker without an API does not).
    verifies_sessions: bool | None = None

    @property
    def follows_users(self) -> bool:
        """True when the service checks session tokens against the live users."""
        if self.verifies_sessions is not None:
            return self.verifies_sessions
        return self.route_handlers is not _no_routes


class Runtime(Generic[S]):
    """The live resources of a running service, shared by handlers, consumers and workers."""

    def __init__(self, definition: ServiceDefinition[S], settings: S) -> None:
        self.definition = definition
        self.settings = settings
        self.database: Database | None = None
        self.event_store: EventStore | None = None
        self.nc: NatsClient | None = None
        self.js: JetStreamContext | None = None
        self.readiness: list[ReadinessCheck] = []
        # Empty (every session refused) unless the definition follows the users.
        self.sessions = LiveSessions(
            settings.effective_jwt_secret, admin_email=settings.admin_email
        )
        self.services: dict[str, Any] = {}  # application services built by start hooks
        self._tasks: list[asyncio.Task[Any]] = []
        self.supervised: dict[str, SupervisedTask] = {}  # background tasks by name
        self._runners: list[ConsumerRunner[Any]] = []
        self._followers: list[StreamFollower] = []
        self._closers: list[Callable[[], Awaitable[Any]]] = []

    def on_stop(self, closer: Callable[[], Awaitable[Any]]) -> None:
        """Close a resource of a start hook (an HTTP pool, say) at shutdown, before NATS."""
        self._closers.append(closer)

    def provide(self, name: str) -> Provide:
        """A Litestar dependency resolving to the application service `name`.

        Start hooks build application services once the database and NATS are open and
        register them in `runtime.services`; handlers declared at import time reach them here.
        """
        services = self.services

        def resolve() -> Any:
            return services[name]

        return Provide(resolve, sync_to_thread=False)

    def require_database(self) -> Database:
        """The database; a service without one must not ask."""
        if self.database is None:
            raise RuntimeError(f"{self.definition.name} has no database")
        return self.database

    def require_event_store(self) -> EventStore:
        """The event store of a service with a database."""
        if self.event_store is None:
            raise RuntimeError(f"{self.definition.name} has no event store")
        return self.event_store

    def require_js(self) -> JetStreamContext:
        """The JetStream context (available once started)."""
        if self.js is None:
            raise RuntimeError("NATS is not connected")
        return self.js

    def spawn(
        self,
        work: Callable[[], Awaitable[Any]] | Coroutine[Any, Any, Any],
        name: str,
    ) -> asyncio.Task[Any]:
        """Run background work for the service's lifetime, supervised.

        `work` is a factory of attempts (a bound `run`, say): when an attempt fails because
        the database or NATS is away, another starts after a capped backoff, and it resumes
        from its own cursor. Any other failure is a crash that turns `/readyz` red under
        `task:<name>`. A bare coroutine is one attempt, never restarted. Events it appends
        record the actor `system` with the task's `name`.
        """
        if inspect.iscoroutine(work):
            supervised = SupervisedTask(name, _once(work))
        else:
            supervised = SupervisedTask(name, work)  # type: ignore[arg-type]
        task = asyncio.create_task(_as_system(supervised.run(), name), name=name)
        self._tasks.append(task)
        self.supervised[name] = supervised
        self.readiness.append((f"task:{name}", supervised.readiness))
        return task

    async def follow(
        self,
        subject: str,
        apply: Callable[[Event], Any],
        registry: EventRegistry | None = None,
        start_time: datetime | None = None,
    ) -> StreamFollower:
        """Replay and follow a stream into an in-memory projection; ready once caught up.

        `registry` decodes the followed events (default: the service's own); `start_time`
        skips what was stored before it.
        """
        follower = StreamFollower(
            self.require_js(), registry or self.definition.registry, subject, apply, start_time
        )
        await follower.start()
        self._followers.append(follower)

        async def caught_up() -> bool:
            return follower.caught_up.is_set()

        name = f"projection:{subject}"
        taken = {check_name for check_name, _ in self.readiness}
        if name in taken:  # two followers of one subject: report each
            name = f"{name}#{len(self._followers)}"
        self.readiness.append((name, caught_up))
        return follower

    def consume(
        self,
        spec: ConsumerSpec,
        handler: Callable[[T, Msg], Awaitable[None]],
        decode: Callable[[Msg], T],
    ) -> ConsumerRunner[T]:
        """Run a durable consumer (provisioned at start-up) until shutdown, then drain it."""
        runner = ConsumerRunner(self.require_js(), spec, handler, decode)
        self._runners.append(runner)
        self.spawn(runner.run, f"consumer:{spec.durable}")
        return runner

    async def start(self) -> None:
        """Open the database and NATS, provision, start the relay and the start hooks."""
        definition, settings = self.definition, self.settings
        if definition.migrations is not None:
            self.database = await Database.open(
                settings.database_url,
                settings.database,
                migrations=[KIT_MIGRATIONS, *definition.migrations],
                pool_size=settings.database_pool_size,
            )
            self.event_store = EventStore(
                self.database, definition.registry, definition.projections()
            )
            self.readiness.append(("database", self.database.ping))
        self.nc = await _connect_with_retry(settings.nats_url, definition.name)
        self.js = self.nc.jetstream()
        nc = self.nc

        async def nats_connected() -> bool:
            return nc.is_connected

        self.readiness.append(("nats", nats_connected))
        await provision_streams(self.js, definition.streams, replicas=settings.nats_stream_replicas)
        for consumer in definition.consumers:
            await provision_consumer(self.js, consumer)
        if definition.follows_users:  # before /readyz: no session is judged on half the users
            await self.follow("auth.>", self.sessions.apply, auth_registry())
        if self.event_store is not None:
            relay = OutboxRelay(self.event_store, self.js)
            self.services["relay"] = relay
            self.spawn(relay.run, "outbox-relay")
        with acting_as(system_actor("start-up")):
            for hook in definition.on_start:
                await hook(self)

    async def stop(self) -> None:
        """Drain consumers, stop followers and tasks, close NATS and the database."""
        await asyncio.gather(*(runner.stop() for runner in self._runners))
        runner_tasks = [t for t in self._tasks if t.get_name().startswith("consumer:")]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*runner_tasks, return_exceptions=True), 30)
        for follower in self._followers:
            await follower.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                await closer()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        if self.database is not None:
            await self.database.close()


async def _as_system(coroutine: Coroutine[Any, Any, T], task: str) -> T:
    with acting_as(system_actor(task)):
        return await coroutine


def _once(coroutine: Coroutine[Any, Any, T]) -> Callable[[], Awaitable[T]]:
    """A factory of exactly one attempt: a coroutine cannot be awaited twice."""
    attempts = iter([coroutine])

    async def attempt() -> T:
        try:
            return await next(attempts)
        except StopIteration:  # a second attempt: not restartable, so a crash
            raise RuntimeError("this background task cannot be restarted") from None

    return attempt


async def _connect_with_retry(url: str, name: str, timeout: float = 30.0) -> NatsClient:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await connect_nats(url, name)
        except Exception as exc:
            shown = _without_credentials(url)
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"cannot connect to NATS at NATS_URL={shown}: {exc}") from exc
            log.warning("waiting for NATS at %s: %s", shown, exc)
            await asyncio.sleep(1.0)


def _without_credentials(urls: str) -> str:
    # A NATS URL may carry a user and password or a token: never into a log or an error.
    return re.sub(r"(?<=//)[^/@,]*@", "***@", urls)


def create_service_app(definition: ServiceDefinition[S], settings: S) -> Any:
    """The service's ASGI app: Litestar (its lifespan owns the runtime, `app.state.runtime`),
    behind the definition's `wrap` when it has one."""
    runtime = Runtime(definition, settings)
    app = _litestar_app(definition, settings, runtime)
    return definition.wrap(runtime, app) if definition.wrap else app


def _litestar_app(definition: ServiceDefinition[S], settings: S, runtime: Runtime[S]) -> Litestar:

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.runtime = runtime
        app.state.sessions = runtime.sessions  # what the kit's session guards check tokens with
        try:
            await runtime.start()
            yield
        finally:
            await runtime.stop()

    return create_http_app(
        title=f"hyperstrate {definition.name}",
        route_handlers=definition.route_handlers(runtime),
        frontend_url=settings.frontend_url,
        readiness_checks=runtime.readiness,
        dependencies={name: runtime.provide(name) for name in definition.provides},
        lifespan=[lifespan],
        jwt_secret=settings.effective_jwt_secret,
        debug=False,
    )


def run_cli(definition: ServiceDefinition[Any], argv: Sequence[str] | None = None) -> int:
    """`python -m hyperstrate_<name> [serve|migrate|rebuild]`."""
    parser = argparse.ArgumentParser(prog=f"python -m hyperstrate_{definition.name}")
    parser.add_argument(
        "command", nargs="?", default="serve", choices=["serve", "migrate", "rebuild"]
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings(definition.settings_type)
    except SettingsError as exc:
        print(f"hyperstrate-{definition.name}: {exc}", file=sys.stderr)
        return 2
    configure_logging(definition.name, level=settings.log_level, log_format=settings.log_format)
    if args.command == "serve":
        return _serve(definition, settings)
    return asyncio.run(_database_command(definition, settings, args.command))


def _serve(definition: ServiceDefinition[Any], settings: ServiceSettings) -> int:
    import uvicorn

    configure_tracing(
        definition.name,
        otlp_endpoint=settings.otel_exporter_otlp_endpoint,
        sampler_ratio=settings.otel_traces_sampler_ratio,
    )
    app = create_service_app(definition, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.listen_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        proxy_headers=False,  # the request log has no client address to correct
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    profile_to = os.environ.get("HYPERSTRATE_CPROFILE")  # a developer's profiling switch
    if profile_to:
        import cProfile
        import signal

        # uvicorn re-raises SIGTERM after its graceful exit; let the profile be written first.
        signal.signal(signal.SIGTERM, lambda *_: None)
        cProfile.runctx(
            "server.run()", globals(), {"server": server}, f"{profile_to}.{definition.name}"
        )
    else:
        server.run()
    return 0 if server.started else 1


async def _database_command(
    definition: ServiceDefinition[Any], settings: ServiceSettings, command: str
) -> int:
    if definition.migrations is None:
        print(f"hyperstrate-{definition.name} has no database", file=sys.stderr)
        return 2
    database = await Database.open(
        settings.database_url,
        settings.database,
        migrations=[KIT_MIGRATIONS, *definition.migrations],
    )
    try:
        if command == "rebuild":
            store = EventStore(database, definition.registry, definition.projections())
            replayed = await store.rebuild()
            log.info("rebuilt read models from %d events", replayed)
        else:
            log.info("migrations applied")
    finally:
        await database.close()
    return 0
