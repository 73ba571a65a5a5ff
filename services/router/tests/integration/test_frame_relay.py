"""The router's side of the hop over real NATS: streamed frames reach the reply inbox in order,
the first at once, a burst together, and none is held back waiting for a later one; a long
answer carries liveness messages (so the gateway can tell it from a dead router), a quick
one none."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import msgspec
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from hyperstrate_contracts.router import (
    INFER_SUBJECT,
    LIVENESS_HEADER,
    LIVENESS_INTERVAL_SECS,
    Caller,
    InferEnd,
    InferRequest,
)
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.payloads import PayloadStore
from hyperstrate_kit.testing import Infrastructure, unique_name, wait_for
from hyperstrate_router.infrastructure.inference.worker import InferenceWorker

Send = Callable[[bytes], Awaitable[None]]
Produce = Callable[[Send], Awaitable[None]]


class _ScriptedPipeline:
    """Stands in for the inference pipeline: streams what `produce` sends, then ends."""

    def __init__(self, produce: Produce) -> None:
        self.produce = produce

    async def handle(self, request: InferRequest, send: Send) -> InferEnd:
        await self.produce(send)
        return InferEnd(status=200, body=msgspec.Raw(b"null"), content_type="text/event-stream")


@asynccontextmanager
async def _worker(infrastructure: Infrastructure, produce: Produce) -> AsyncIterator[NatsClient]:
    nc = await connect_nats(infrastructure.nats_url, unique_name("relay"))
    worker = InferenceWorker(nc, _ScriptedPipeline(produce), PayloadStore(nc, "unused"))  # type: ignore[arg-type]
    await worker.start()
    try:
        yield nc
    finally:
        await worker.stop()
        await nc.close()


async def _ask(nc: NatsClient, messages: list[Msg]) -> asyncio.Event:
    """Send one request; its answers land in `messages`; the event is set by the end frame."""
    ended = asyncio.Event()
    inbox = nc.new_inbox()

    async def on_answer(msg: Msg) -> None:
        messages.append(msg)
        if (msg.headers or {}).get("Hs-End"):
            ended.set()

    await nc.subscribe(inbox, cb=on_answer)
    request = InferRequest(
        request_id=unique_name("req"),
        router_id="rtr",
        api="openai",
        caller=Caller(org_id="org", kind="api_key"),
        body=msgspec.Raw(b"{}"),
    )
    await nc.publish(INFER_SUBJECT, msgspec.json.encode(request), reply=inbox)
    return ended


def _frames(messages: list[Msg]) -> list[bytes]:
    return [m.data for m in messages if "Hs-Seq" in (m.headers or {})]


def _liveness(messages: list[Msg]) -> list[Msg]:
    return [m for m in messages if (m.headers or {}).get(LIVENESS_HEADER)]


async def test_a_burst_of_frames_arrives_in_order_the_first_alone(
    infrastructure: Infrastructure,
) -> None:
    burst = [f"data: {i}\n\n".encode() for i in range(20)]

    async def produce(send: Send) -> None:
        for frame in burst:  # as when one upstream read carries many events
            await send(frame)

    async with _worker(infrastructure, produce) as nc:
        messages: list[Msg] = []
        ended = await _ask(nc, messages)
        await asyncio.wait_for(ended.wait(), timeout=5)
    frames = _frames(messages)
    assert b"".join(frames) == b"".join(burst)
    assert frames[0] == burst[0]  # the first byte is not held for the rest
    assert len(frames) < len(burst)  # the rest travelled together
    sequences = [int(m.headers["Hs-Seq"]) for m in messages if "Hs-Seq" in (m.headers or {})]
    assert sequences == list(range(1, len(frames) + 1))
    assert (messages[-1].headers or {}).get("Hs-End")


async def test_a_frame_is_not_held_back_for_the_next(infrastructure: Infrastructure) -> None:
    messages: list[Msg] = []
    spaced = [f"data: {i}\n\n".encode() for i in range(4)]

    async def produce(send: Send) -> None:
        for index, frame in enumerate(spaced):
            await send(frame)
            sent = b"".join(spaced[: index + 1])
            # The next frame comes only once the client has this one, as with a slow model.
            await wait_for(
                lambda sent=sent: b"".join(_frames(messages)) == sent,
                timeout=5,
                message=f"frame {index} at the client before the next is made",
            )

    async with _worker(infrastructure, produce) as nc:
        ended = await _ask(nc, messages)
        await asyncio.wait_for(ended.wait(), timeout=10)
    assert _frames(messages) == spaced


async def test_a_stream_that_fails_unexpectedly_ends_with_an_error_frame(
    infrastructure: Infrastructure,
) -> None:
    async def produce(send: Send) -> None:
        await send(b"data: first\n\n")
        raise RuntimeError("a bug midway")

    async with _worker(infrastructure, produce) as nc:
        messages: list[Msg] = []
        ended = await _ask(nc, messages)
        await asyncio.wait_for(ended.wait(), 5)

    frames = b"".join(_frames(messages))
    first, error = frames.split(b"\n\n")[:2]
    assert first == b"data: first"
    assert msgspec.json.decode(error.removeprefix(b"data: "))["error"]["type"] == "api_error"
    assert b"a bug midway" not in frames  # internals stay in the log
    end = msgspec.json.decode(messages[-1].data, type=InferEnd)
    assert end.status == 500


async def test_a_long_answer_carries_liveness_messages_and_a_quick_one_none(
    infrastructure: Infrastructure,
) -> None:
    slow: list[Msg] = []

    async def produce_slowly(send: Send) -> None:
        await send(b"data: first\n\n")
        # A slow model: the next frame comes only once the gateway has heard that it lives.
        await wait_for(lambda: len(_liveness(slow)) >= 3, timeout=10, message="liveness")
        await send(b"data: second\n\n")

    async with _worker(infrastructure, produce_slowly) as nc:
        started = time.monotonic()
        ended = await _ask(nc, slow)
        await asyncio.wait_for(ended.wait(), timeout=15)
    took = time.monotonic() - started
    assert _frames(slow) == [b"data: first\n\n", b"data: second\n\n"]  # in sequence, unmixed
    beats = _liveness(slow)
    assert all(m.data == b"" and "Hs-Seq" not in m.headers for m in beats)
    # Never silent past 1.5 intervals (the gateway's 5 s deadline has room to spare).
    assert took <= len(beats) * 1.5 * LIVENESS_INTERVAL_SECS + 2.0, (took, len(beats))

    async def produce_quickly(send: Send) -> None:
        await send(b"data: only\n\n")

    quick: list[Msg] = []
    async with _worker(infrastructure, produce_quickly) as nc:
        ended = await _ask(nc, quick)
        await asyncio.wait_for(ended.wait(), timeout=5)
    assert _frames(quick) == [b"data: only\n\n"] and not _liveness(quick)
