"""Outbox relay against real PostgreSQL and JetStream."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from kit_support import TEST_STREAM, WidgetCreated, WidgetRenamed, registry
from nats.js import JetStreamContext
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import ConsumerSpec
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import acting_as
from hyperstrate_kit.bus import ConsumerRunner, event_decoder, idempotent, provision_consumer
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.logs import request_id_var
from hyperstrate_kit.relay import OutboxRelay
from hyperstrate_kit.testing import wait_for


async def _stream_messages(js: JetStreamContext) -> int:
    return int((await js.stream_info(TEST_STREAM.name)).state.messages)


async def _append_widgets(store: EventStore, count: int, start: int = 0) -> list[WidgetCreated]:
    events = [
        WidgetCreated(org_id="o", aggregate_id=f"w{i}", name=f"n{i}")
        for i in range(start, start + count)
    ]
    for event in events:
        await store.append(f"widget-{event.aggregate_id}", 0, [event])
    return events


async def test_relay_publishes_in_order_with_event_id_as_msg_id(
    database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    events = await _append_widgets(store, 5)
    relay = OutboxRelay(store, test_stream, name="t1")

    assert await relay.publish_pending() == 5

    for seq, event in enumerate(events, start=1):
        msg = await test_stream.get_msg(TEST_STREAM.name, seq)
        assert msg.subject == "kittest.widget.created"
        assert msg.headers is not None and msg.headers["Nats-Msg-Id"] == event.event_id
        assert registry.decode(msg.subject, msg.data) == msgspec.structs.replace(
            event, aggregate_version=1
        )


async def test_relay_wakes_on_commit_without_polling(
    database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    relay = OutboxRelay(store, test_stream, name="t2", idle_poll_seconds=3600)
    task = asyncio.create_task(relay.run())
    try:
        await _append_widgets(store, 1)
        await wait_for(lambda: _has(test_stream, 1), timeout=5, message="the first event")
        await _append_widgets(store, 1, start=1)
        # Polling is hourly: only the NOTIFY of the commit can have woken the relay.
        await wait_for(lambda: _has(test_stream, 2), timeout=5, message="the second event")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _has(js: JetStreamContext, count: int) -> bool:
    return await _stream_messages(js) >= count


async def test_relay_killed_mid_batch_then_restarted_delivers_each_event_once_in_effect(
    database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    events = await _append_widgets(store, 20)
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE applied (event_id text NOT NULL)"))

    # The first relay dies after publishing 7 events of its batch, before saving its cursor.
    first = OutboxRelay(store, test_stream, name="crashy", batch_size=50)
    published = 0
    real_publish = first._publish

    async def publish_then_die(stored: Any) -> None:
        nonlocal published
        await real_publish(stored)
        published += 1
        if published == 7:
            asyncio.current_task().cancel()  # type: ignore[union-attr]

    first._publish = publish_then_die  # type: ignore[method-assign]
    crashed = asyncio.create_task(first.run())
    await asyncio.gather(crashed, return_exceptions=True)
    # The kill may land after the 8th message left but before its ack: still mid-batch.
    assert 7 <= await _stream_messages(test_stream) < 20

    second = OutboxRelay(store, test_stream, name="crashy", batch_size=50)
    restarted = asyncio.create_task(second.run())
    try:
        await wait_for(lambda: _has(test_stream, 20), timeout=10, message="all events published")
        assert await _stream_messages(test_stream) == 20  # re-published ones were deduplicated

        # A duplicate from outside the window still reaches the consumer: the inbox absorbs it.
        await test_stream.publish(
            events[3].type, msgspec.json.encode(events[3]), headers={"Nats-Msg-Id": "replay-3"}
        )
        spec = ConsumerSpec(stream=TEST_STREAM.name, durable="applier", max_deliver=3)
        await provision_consumer(test_stream, spec)

        async def apply(session: AsyncSession, event: Any) -> None:
            await session.execute(text("INSERT INTO applied VALUES (:id)"), {"id": event.event_id})

        runner = ConsumerRunner(test_stream, spec, idempotent(database, "applier", apply),
                                event_decoder(registry))  # fmt: skip
        consuming = asyncio.create_task(runner.run())

        async def applied_count() -> int:
            async with database.sessions() as session:
                return int(
                    (await session.execute(text("SELECT count(*) FROM applied"))).scalar_one()
                )

        async def all_acked() -> bool:
            info = await test_stream.consumer_info(TEST_STREAM.name, "applier")
            return info.num_pending == 0 and info.num_ack_pending == 0

        await wait_for(all_acked, timeout=10, message="consumer done")
        await runner.stop()
        await asyncio.wait_for(consuming, 5)
        async with database.sessions() as session:
            rows = (await session.execute(text("SELECT event_id FROM applied"))).scalars().all()
        assert sorted(rows) == sorted(e.event_id for e in events)
        assert await applied_count() == 20
    finally:
        restarted.cancel()
        await asyncio.gather(restarted, return_exceptions=True)


async def test_only_one_relay_leads_per_database(
    database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    leader = OutboxRelay(store, test_stream, name="solo", idle_poll_seconds=0.05)
    standby = OutboxRelay(store, test_stream, name="solo", idle_poll_seconds=0.05)
    standby_publish_calls = 0
    real = standby._publish

    async def counting(stored: Any) -> None:
        nonlocal standby_publish_calls
        standby_publish_calls += 1
        await real(stored)

    standby._publish = counting  # type: ignore[method-assign]
    tasks = [asyncio.create_task(leader.run())]
    await wait_for(lambda: leader._wake is not None and _leading(database), timeout=5,
                   message="the first relay leading")  # fmt: skip
    tasks.append(asyncio.create_task(standby.run()))
    try:
        await _append_widgets(store, 10)
        await wait_for(lambda: _has(test_stream, 10), timeout=10, message="events published")
        assert standby_publish_calls == 0
        # The leader goes away: the standby takes over and publishes what comes next.
        tasks[0].cancel()
        await asyncio.gather(tasks[0], return_exceptions=True)
        await _append_widgets(store, 1, start=10)
        await wait_for(lambda: _has(test_stream, 11), timeout=10, message="standby took over")
        assert standby_publish_calls == 1
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _leading(database: Database) -> bool:
    async with database.sessions() as session:
        held = await session.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
        )
        return bool(held.scalar_one())


async def test_writer_trace_travels_with_the_event_to_jetstream(
    database: Database, test_stream: JetStreamContext
) -> None:
    tracer = TracerProvider().get_tracer("test")
    store = EventStore(database, registry)
    with tracer.start_as_current_span("http request") as span:
        trace_id = f"{span.get_span_context().trace_id:032x}"
        await _append_widgets(store, 1)

    await OutboxRelay(store, test_stream, name="traced").publish_pending()

    msg = await test_stream.get_msg(TEST_STREAM.name, 1)
    assert msg.headers is not None and msg.headers["traceparent"].split("-")[1] == trace_id


async def test_actor_and_request_id_travel_with_the_event_to_jetstream(
    database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    request = request_id_var.set("req-42")
    try:
        with acting_as(Actor(kind="api_key", id="key-7")):
            stored = await store.append(
                "widget-a", 0, [WidgetCreated(org_id="o", aggregate_id="a", name="n")]
            )
    finally:
        request_id_var.reset(request)
    await store.append("widget-b", 0, [WidgetCreated(org_id="o", aggregate_id="b", name="n")])

    assert stored[0].actor == Actor(kind="api_key", id="key-7")
    loaded = await store.load("widget-a")
    assert loaded[0].actor == Actor(kind="api_key", id="key-7")
    assert loaded[0].metadata["Hs-Request-Id"] == "req-42"
    await OutboxRelay(store, test_stream, name="actors").publish_pending()

    named = await test_stream.get_msg(TEST_STREAM.name, 1)
    assert named.headers is not None
    assert named.headers["Hs-Actor-Kind"] == "api_key"
    assert named.headers["Hs-Actor-Id"] == "key-7"
    assert named.headers["Hs-Request-Id"] == "req-42"
    assert b"key-7" not in named.data  # metadata rides beside the body, not in it
    unnamed = await test_stream.get_msg(TEST_STREAM.name, 2)
    assert "Hs-Actor-Kind" not in (unnamed.headers or {})
    assert "Hs-Request-Id" not in (unnamed.headers or {})


async def test_a_consumers_appends_record_the_consumer_as_a_system_actor(
    database: Database, test_stream: JetStreamContext
) -> None:
    store = EventStore(database, registry)
    spec = ConsumerSpec(stream=TEST_STREAM.name, durable="renamer", description="t")
    await provision_consumer(test_stream, spec)

    async def rename(event: Any, _msg: Any) -> None:
        await store.append(
            f"widget-{event.aggregate_id}",
            1,
            [WidgetRenamed(org_id="o", aggregate_id=event.aggregate_id, name="renamed")],
        )

    runner = ConsumerRunner(test_stream, spec, rename, event_decoder(registry))
    task = asyncio.create_task(runner.run())
    try:
        await store.append("widget-c", 0, [WidgetCreated(org_id="o", aggregate_id="c", name="n")])
        await OutboxRelay(store, test_stream, name="consumed").publish_pending()

        async def renamed() -> bool:
            return len(await store.load("widget-c")) == 2

        await wait_for(renamed, timeout=10, message="the consumer's append")
    finally:
        await runner.stop()
        await asyncio.wait_for(task, 10)
    assert (await store.load("widget-c"))[1].actor == Actor(kind="system", id="consumer:renamer")
