"""Inference events survive NATS going away: they wait (spilling to disk past the memory
bound) and are all published, in order, once NATS is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from hyperstrate_contracts import INFERENCE
from hyperstrate_contracts.inference import InferenceCompleted, InferencePayloadCaptured
from hyperstrate_kit.bus import connect_nats, provision_streams
from hyperstrate_kit.embedded import EmbeddedNats
from hyperstrate_kit.testing import wait_for
from hyperstrate_router.infrastructure.inference.publisher import InferenceEventPublisher


async def test_events_wait_for_nats_spill_to_disk_and_all_arrive_in_order(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    nc = await connect_nats(server.url, "publisher-test")
    js = nc.jetstream()
    await provision_streams(js, [INFERENCE])
    publisher = InferenceEventPublisher(
        nc, tmp_path / "spill" / "events.jsonl", max_in_memory=5, publish_timeout=0.5
    )
    task = asyncio.create_task(publisher.run())
    try:
        server.stop()  # NATS goes away
        events = [
            InferenceCompleted(org_id="o", aggregate_id=f"r{i}", request_id=f"r{i}", input_tokens=i)
            for i in range(12)
        ]
        for event in events:
            publisher.emit(event)
        assert (tmp_path / "spill" / "events.jsonl").exists()  # past 5 in memory, on disk

        server = EmbeddedNats(tmp_path / "nats", port=server.port)  # back: same port and store
        server.start()

        async def all_there() -> bool:
            try:
                return (await js.stream_info("INFERENCE")).state.messages == 12
            except Exception:
                return False

        await wait_for(all_there, timeout=30, message="every event on JetStream")
        received = []
        for sequence in range(1, 13):
            message = await js.get_msg("INFERENCE", sequence)
            received.append(msgspec.json.decode(message.data)["request_id"])
        assert received == [f"r{i}" for i in range(12)]
        assert not (tmp_path / "spill" / "events.jsonl").exists()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
        server.stop()


async def test_a_deferred_event_is_built_once_and_a_failing_one_blocks_nothing(
    tmp_path: Path,
) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    nc = await connect_nats(server.url, "publisher-deferred-test")
    js = nc.jetstream()
    await provision_streams(js, [INFERENCE])
    publisher = InferenceEventPublisher(
        nc, tmp_path / "spill" / "events.jsonl", max_in_memory=2, publish_timeout=0.5
    )
    builds: list[str] = []

    def capture(request_id: str) -> InferencePayloadCaptured:
        builds.append(request_id)
        return InferencePayloadCaptured(org_id="o", aggregate_id=request_id, request_id=request_id)

    def broken() -> InferencePayloadCaptured:
        raise ValueError("cannot build")

    task = asyncio.create_task(publisher.run())
    try:
        server.stop()  # the first attempts fail: the built event is kept, not built again
        publisher.emit_later(lambda: capture("p1"))
        publisher.emit_later(broken)
        publisher.emit(InferenceCompleted(org_id="o", aggregate_id="c1", request_id="c1"))
        publisher.emit_later(lambda: capture("p2"))  # past 2 in memory: built to spill
        await wait_for(lambda: builds == ["p2", "p1"], timeout=10, message="both built")
        server = EmbeddedNats(tmp_path / "nats", port=server.port)
        server.start()

        async def all_there() -> bool:
            try:
                return (await js.stream_info("INFERENCE")).state.messages == 3
            except Exception:
                return False

        await wait_for(all_there, timeout=30, message="the three events on JetStream")
        received = [
            msgspec.json.decode((await js.get_msg("INFERENCE", sequence)).data)["request_id"]
            for sequence in range(1, 4)
        ]
        assert received == ["p1", "c1", "p2"]
        assert builds == ["p2", "p1"]  # each built once, though published after retries
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await nc.close()
        server.stop()
