"""PostgreSQL stopped (fast shutdown) and started again on the same port and data, under a
service's background work and its HTTP API: nothing needs a restart to carry on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from kit_support import TEST_STREAM, WidgetCreated, WidgetRenamed, registry
from litestar import Litestar, get
from litestar.datastructures import State
from nats.js import JetStreamContext
from sqlalchemy import text

from hyperstrate_contracts import ConsumerSpec, encode_event
from hyperstrate_kit.bus import ConsumerRunner, event_decoder, provision_consumer
from hyperstrate_kit.database import KIT_MIGRATIONS, Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.http import create_http_app
from hyperstrate_kit.relay import OutboxRelay
from hyperstrate_kit.supervisor import SupervisedTask
from hyperstrate_kit.testing import RestartablePostgres, serve_app, unique_name, wait_for

RECOVERY_SECONDS = 15  # what the issue allows a service to be back in, by itself


@pytest.fixture
async def database(restartable_postgres: RestartablePostgres) -> AsyncIterator[Database]:
    db = await Database.open(restartable_postgres.url, unique_name("db"),
                             migrations=[KIT_MIGRATIONS])  # fmt: skip
    try:
        yield db
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def supervised(task: SupervisedTask) -> AsyncIterator[asyncio.Task[None]]:
    running = asyncio.create_task(task.run())
    try:
        yield running
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def _published(js: JetStreamContext) -> set[str]:
    info = await js.stream_info(TEST_STREAM.name)
    names = set()
    for seq in range(1, info.state.last_seq + 1):
        msg = await js.get_msg(TEST_STREAM.name, seq)
        names.add(registry.decode(msg.subject, msg.data).aggregate_id)
    return names


async def test_the_relay_resumes_after_postgres_restarts_and_warns_once(
    restartable_postgres: RestartablePostgres,
    database: Database,
    test_stream: JetStreamContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = EventStore(database, registry)
    relay = SupervisedTask("outbox-relay", OutboxRelay(store, test_stream, name="r").run)
    async with supervised(relay) as running:
        await store.append("widget-before", 0, [WidgetCreated(org_id="o", aggregate_id="before",
                                                              name="n")])  # fmt: skip
        await wait_for(lambda: _has(test_stream, "before"), message="the first event published")

        with caplog.at_level(logging.DEBUG, logger="hyperstrate_kit.supervisor"):
            await restartable_postgres.stop()
            await wait_for(lambda: relay.failing_since is not None, timeout=RECOVERY_SECONDS,
                           message="the relay to notice the outage")  # fmt: skip
            await wait_for(lambda: relay.restarts >= 3, timeout=RECOVERY_SECONDS,
                           message="the relay to retry a few times")  # fmt: skip
            await restartable_postgres.start()
            await store.append("widget-after", 0, [WidgetCreated(org_id="o", aggregate_id="after",
                                                                 name="n")])  # fmt: skip
            await wait_for(lambda: _has(test_stream, "after"), timeout=RECOVERY_SECONDS,
                           message="an event appended after the restart published")  # fmt: skip

        assert not running.done() and relay.crash is None and relay.ready()
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]  # one per outage
        assert "outbox-relay lost a dependency" in warnings[0].getMessage()
        assert await _published(test_stream) == {"before", "after"}  # resumed from its cursor


async def _has(js: JetStreamContext, aggregate_id: str) -> bool:
    return aggregate_id in await _published(js)


async def test_a_consumer_holds_its_message_through_the_outage_instead_of_dead_lettering_it(
    restartable_postgres: RestartablePostgres, database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    # Two deliveries, a tenth of a second apart: without holding, the outage dead-letters it.
    spec = ConsumerSpec(stream=TEST_STREAM.name, durable="renamer", description="t",
                        max_deliver=2, backoff_seconds=(0.1,))  # fmt: skip
    await provision_consumer(test_stream, spec)
    await store.append("widget-w", 0, [WidgetCreated(org_id="o", aggregate_id="w", name="n")])

    async def rename(event: Any, _msg: Any) -> None:
        renamed = WidgetRenamed(org_id="o", aggregate_id=event.aggregate_id, name="renamed")
        await store.append(f"widget-{event.aggregate_id}", 1, [renamed])

    runner = ConsumerRunner(test_stream, spec, rename, event_decoder(registry))
    async with supervised(SupervisedTask("consumer:renamer", runner.run)):
        await restartable_postgres.stop()
        created = WidgetCreated(org_id="o", aggregate_id="w", name="n")
        await test_stream.publish(created.type, encode_event(created),
                                  headers={"Nats-Msg-Id": created.event_id})  # fmt: skip
        consumer = await test_stream.consumer_info(TEST_STREAM.name, spec.durable)
        await wait_for(lambda: _delivered(test_stream, spec.durable), timeout=RECOVERY_SECONDS,
                       message="the message in the consumer's hands")  # fmt: skip
        await restartable_postgres.start()

        async def renamed() -> bool:
            return len(await store.load("widget-w")) == 2

        await wait_for(renamed, timeout=RECOVERY_SECONDS, message="the effect after the restart")
        consumer = await test_stream.consumer_info(TEST_STREAM.name, spec.durable)
        assert consumer.num_redelivered == 0  # held, not spent on deliveries
        await runner.stop()


async def _delivered(js: JetStreamContext, durable: str) -> bool:
    info = await js.consumer_info(TEST_STREAM.name, durable)
    return info.num_ack_pending == 1


async def test_the_api_answers_503_while_the_database_is_down_then_200(
    restartable_postgres: RestartablePostgres,
) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:  # as a service opens it
        app.state.database = await Database.open(restartable_postgres.url, unique_name("db"),
                                                 migrations=[KIT_MIGRATIONS])  # fmt: skip
        try:
            yield
        finally:
            await app.state.database.close()

    @get("/things")
    async def things(state: State) -> dict[str, int]:
        async with state.database.sessions() as session:
            return {"count": int((await session.execute(text("SELECT 1"))).scalar_one())}

    async def database_answers() -> bool:
        return bool(await app.state.database.ping())

    app = create_http_app(title="t", route_handlers=[things], frontend_url="http://x",
                          readiness_checks=[("database", database_answers)],
                          lifespan=[lifespan])  # fmt: skip
    async with serve_app(app) as base_url, httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/things")).status_code == 200
        await restartable_postgres.stop()
        for _ in range(3):  # the pool's dead connections, then refused ones: all a 503
            down = await client.get("/things")
            assert down.status_code == 503, down.text
            assert down.json() == {"error": "database unavailable, retry shortly", "fields": {}}
            assert down.headers["retry-after"] == "2"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
        await restartable_postgres.start()

        async def answers() -> bool:
            return (await client.get("/things")).status_code == 200

        await wait_for(answers, timeout=RECOVERY_SECONDS, message="the API back")
        assert (await client.get("/readyz")).status_code == 200
