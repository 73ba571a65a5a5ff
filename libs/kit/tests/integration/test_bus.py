"""Provisioning, durable consumers, replay followers and request/reply on real JetStream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from kit_support import TEST_STREAM, WidgetCreated, WidgetRenamed, registry
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hyperstrate_contracts import DEAD_LETTER, ConsumerSpec, Event, dead_letter_subject
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.actors import current_actor
from hyperstrate_kit.bus import (
    ConsumerRunner,
    RemoteError,
    ServiceUnavailable,
    StreamFollower,
    event_decoder,
    provision_consumer,
    provision_streams,
    request,
    serve,
)
from hyperstrate_kit.telemetry import inject_headers
from hyperstrate_kit.testing import wait_for


async def _publish_widgets(js: JetStreamContext, count: int, start: int = 0) -> list[Event]:
    events: list[Event] = []
    for i in range(start, start + count):
        event = WidgetCreated(org_id="o", aggregate_id=f"w{i}", name=f"n{i}")
        await js.publish(
            event.type, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
        )
        events.append(event)
    return events


def _fast_spec(durable: str, **overrides: Any) -> ConsumerSpec:
    options: dict[str, Any] = {
        "max_deliver": 3,
        "backoff_seconds": (0.05,),
        "ack_wait_seconds": 5.0,
    }
    options.update(overrides)
    return ConsumerSpec(stream=TEST_STREAM.name, durable=durable, **options)


async def _drained(js: JetStreamContext, durable: str) -> bool:
    info = await js.consumer_info(TEST_STREAM.name, durable)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def test_failing_handler_dead_letters_after_max_deliveries_and_goes_on(
    test_stream: JetStreamContext,
) -> None:
    spec = _fast_spec("dlq-test")
    await provision_streams(test_stream, [DEAD_LETTER])
    await provision_consumer(test_stream, spec)
    poison, good = await _publish_widgets(test_stream, 2)
    attempts: dict[str, int] = {}
    handled: list[str] = []

    async def handler(event: Event, msg: Msg) -> None:
        attempts[event.event_id] = msg.metadata.num_delivered
        if event.event_id == poison.event_id:
            raise RuntimeError("always fails")
        handled.append(event.event_id)

    runner = ConsumerRunner(test_stream, spec, handler, event_decoder(registry))
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: _drained(test_stream, spec.durable), message="consumer drained")
        dead = await test_stream.get_last_msg("DEAD_LETTER", dead_letter_subject(spec))
    finally:
        await runner.stop()
        await asyncio.wait_for(task, 5)

    assert attempts[poison.event_id] == 3
    assert handled == [good.event_id]
    assert registry.decode("kittest.widget.created", dead.data) == poison
    assert dead.headers is not None
    assert dead.headers["Hs-Original-Subject"] == "kittest.widget.created"
    assert dead.headers["Hs-Deliveries"] == "3"
    assert "always fails" in dead.headers["Hs-Error"]


async def test_undecodable_message_is_dead_lettered_at_once(test_stream: JetStreamContext) -> None:
    spec = _fast_spec("poison-test")
    await provision_streams(test_stream, [DEAD_LETTER])
    await provision_consumer(test_stream, spec)
    await test_stream.publish("kittest.widget.created", b"not json")
    calls = 0

    async def handler(event: Event, msg: Msg) -> None:
        nonlocal calls
        calls += 1

    runner = ConsumerRunner(test_stream, spec, handler, event_decoder(registry))
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: _drained(test_stream, spec.durable), message="consumer drained")
        dead = await test_stream.get_last_msg("DEAD_LETTER", dead_letter_subject(spec))
    finally:
        await runner.stop()
        await asyncio.wait_for(task, 5)
    assert calls == 0
    assert dead.data == b"not json" and dead.headers and dead.headers["Hs-Deliveries"] == "1"


async def test_long_handler_keeps_message_in_progress_past_ack_wait(
    test_stream: JetStreamContext,
) -> None:
    spec = _fast_spec("slow-test", ack_wait_seconds=1.0)
    await provision_consumer(test_stream, spec)
    await _publish_widgets(test_stream, 1)
    progress_calls = 0
    release = asyncio.Event()
    deliveries: list[int] = []
    original_in_progress = Msg.in_progress

    async def counting_in_progress(self: Msg) -> None:
        nonlocal progress_calls
        progress_calls += 1
        await original_in_progress(self)

    async def handler(event: Event, msg: Msg) -> None:
        deliveries.append(msg.metadata.num_delivered)
        await release.wait()

    Msg.in_progress = counting_in_progress  # type: ignore[method-assign]
    runner = ConsumerRunner(test_stream, spec, handler, event_decoder(registry))
    task = asyncio.create_task(runner.run())
    try:
        # Six keep-alives at ack_wait/3 span two full ack_wait periods of work.
        await wait_for(lambda: progress_calls >= 6, timeout=10, message="in_progress calls")
        release.set()
        await wait_for(lambda: _drained(test_stream, spec.durable), message="acked")
    finally:
        Msg.in_progress = original_in_progress  # type: ignore[method-assign]
        release.set()
        await runner.stop()
        await asyncio.wait_for(task, 5)
    assert deliveries == [1]


async def test_stop_drains_the_message_in_hand(test_stream: JetStreamContext) -> None:
    spec = _fast_spec("drain-test")
    await provision_consumer(test_stream, spec)
    await _publish_widgets(test_stream, 1)
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def handler(event: Event, msg: Msg) -> None:
        started.set()
        await release.wait()
        finished.append(event.event_id)

    runner = ConsumerRunner(test_stream, spec, handler, event_decoder(registry))
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(started.wait(), 5)
    await runner.stop()
    assert not task.done()  # still finishing the message in hand
    release.set()
    await asyncio.wait_for(task, 5)

    assert len(finished) == 1
    await wait_for(lambda: _drained(test_stream, spec.durable), message="the drained message acked")


async def test_provisioning_applies_changed_specs(test_stream: JetStreamContext) -> None:
    spec = _fast_spec("provisioned", max_deliver=3, filter_subjects=("kittest.widget.created",))
    first = await provision_consumer(test_stream, spec)
    changed = await provision_consumer(test_stream, msgspec.structs.replace(spec, max_deliver=7))
    await provision_streams(
        test_stream, [msgspec.structs.replace(TEST_STREAM, max_age_seconds=3600)]
    )

    assert first.config.max_deliver == 4  # ours + 1: a crash on the last attempt still dead-letters
    assert changed.config.max_deliver == 8
    assert (await test_stream.stream_info(TEST_STREAM.name)).config.max_age == 3600


async def test_follower_replays_history_then_signals_caught_up_then_follows(
    test_stream: JetStreamContext,
) -> None:
    history = await _publish_widgets(test_stream, 25)
    names: dict[str, str] = {}

    def apply(event: Event) -> None:
        assert isinstance(event, WidgetCreated | WidgetRenamed)
        names[event.aggregate_id] = event.name

    follower = StreamFollower(test_stream, registry, "kittest.>", apply)
    await follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 10)
        assert len(names) == len(history)

        renamed = WidgetRenamed(org_id="o", aggregate_id="w3", name="live")
        await test_stream.publish(renamed.type, msgspec.json.encode(renamed))
        await wait_for(lambda: names.get("w3") == "live", message="live event applied")
    finally:
        await follower.stop()


async def test_follower_of_an_empty_stream_is_caught_up_at_once(
    test_stream: JetStreamContext,
) -> None:
    follower = StreamFollower(test_stream, registry, "kittest.>", lambda event: None)
    await follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 5)
        assert follower.applied == 0
    finally:
        await follower.stop()


async def test_a_follower_starting_after_the_last_event_is_caught_up_at_once(
    test_stream: JetStreamContext,
) -> None:
    # A router restarting long after the last inference event follows INFERENCE from a time
    # past it: nothing to replay, so it must be ready (it stayed not-ready for ever).
    await _publish_widgets(test_stream, 5)
    later = datetime.now(UTC) + timedelta(seconds=1)
    follower = StreamFollower(test_stream, registry, "kittest.>", lambda event: None, later)
    await follower.start()
    try:
        await asyncio.wait_for(follower.caught_up.wait(), 5)
        assert follower.applied == 0
    finally:
        await follower.stop()


class Ping(msgspec.Struct):
    text: str


class Pong(msgspec.Struct):
    text: str


async def test_request_reply_round_trip_errors_and_timeouts(nats_client: NatsClient) -> None:
    async def answer(ping: Ping) -> Pong:
        if ping.text == "bad":
            raise RemoteError("not_found", "no such thing")
        if ping.text == "crash":
            raise RuntimeError("secret internals")
        if ping.text == "who":  # what an append here would record
            return Pong(text=str(current_actor()))
        return Pong(text=ping.text.upper())

    subscription = await serve(nats_client, "svc.kittest.ping", Ping, answer, queue="kittest")
    try:
        assert await request(nats_client, "svc.kittest.ping", Ping(text="hi"), Pong) == Pong("HI")
        with pytest.raises(RemoteError) as not_found:
            await request(nats_client, "svc.kittest.ping", Ping(text="bad"), Pong)
        assert not_found.value.code == "not_found"
        with pytest.raises(RemoteError) as internal:
            await request(nats_client, "svc.kittest.ping", Ping(text="crash"), Pong)
        assert internal.value.code == "internal" and "secret" not in internal.value.message
        who = await request(nats_client, "svc.kittest.ping", Ping(text="who"), Pong)
        assert who.text == str(Actor(kind="system", id="responder:svc.kittest.ping"))
        with pytest.raises(ServiceUnavailable):
            await request(nats_client, "svc.kittest.nobody", Ping(text="x"), Pong, timeout=0.5)
    finally:
        await subscription.unsubscribe()


async def test_traceparent_crosses_the_bus_into_the_consumer(test_stream: JetStreamContext) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    spec = _fast_spec("trace-test")
    await provision_consumer(test_stream, spec)
    seen_trace_ids: list[int] = []

    async def handler(event: Event, msg: Msg) -> None:
        seen_trace_ids.append(trace.get_current_span().get_span_context().trace_id)

    with tracer.start_as_current_span("publisher") as span:
        sent_trace_id = span.get_span_context().trace_id
        event = WidgetCreated(org_id="o", aggregate_id="w1", name="n")
        await test_stream.publish(event.type, msgspec.json.encode(event), headers=inject_headers())

    runner = ConsumerRunner(test_stream, spec, handler, event_decoder(registry))
    task = asyncio.create_task(runner.run())
    try:
        await wait_for(lambda: seen_trace_ids, message="handled")
    finally:
        await runner.stop()
        await asyncio.wait_for(task, 5)
    assert seen_trace_ids == [sent_trace_id]
