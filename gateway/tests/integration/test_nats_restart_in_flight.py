"""A NATS restart while requests are in flight: why some were stranded for 300 s, and that
each now ends within the liveness timeout, answered or failed.

The cause: core NATS delivers a message only to the subscriptions the server has when it
arrives. A router that is back on the restarted server before the gateway sends its buffered
answers there while the gateway's inbox subscription is not: the server drops them, and the
router has already logged the request `completed`. Which client reconnected first decided
the outcome, hence "2 runs in 6". Here the gateway's client waits longer between reconnects
on purpose, so that the router is (almost always) first and its answers are lost: the gateway
must notice by itself. When the gateway is first after all, the answers arrive."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from hyperstrate_contracts.router import (
    INFER_QUEUE,
    INFER_SUBJECT,
    Caller,
    InferEnd,
    InferRequest,
)
from hyperstrate_gateway.inference.hop import ReplyMux, RouterSilent
from hyperstrate_kit.embedded import EmbeddedNats
from hyperstrate_kit.testing import wait_for

# Longer than the default here, so that the gateway is back on NATS well before it gives up.
LIVENESS_TIMEOUT = 8.0
IN_FLIGHT = 5


@pytest_asyncio.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A NATS server of this test's own, to kill and start again."""
    server = EmbeddedNats(tmp_path / "nats")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


def _request() -> InferRequest:
    return InferRequest(
        request_id=uuid.uuid4().hex,
        router_id="rtr",
        api="openai",
        caller=Caller(org_id="org", kind="api_key"),
        body=msgspec.Raw(b"{}"),
    )


async def _outcome(mux: ReplyMux) -> tuple[str, float]:
    """'answered' or 'failed' for one request, and when."""
    try:
        async for frame in mux.call(_request()):
            if frame.end is not None:
                return ("answered" if frame.end.status == 200 else "failed"), time.monotonic()
    except RouterSilent:
        return "failed", time.monotonic()
    raise AssertionError("no end frame")


async def _client(
    server: EmbeddedNats, reconnect_wait: float, reconnects: list[str], name: str
) -> NatsClient:
    async def reconnected() -> None:
        reconnects.append(name)

    client = NatsClient()
    await client.connect(
        server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=reconnect_wait,  # type: ignore[arg-type]  # seconds
        reconnected_cb=reconnected,
    )
    return client


async def test_answers_lost_in_a_nats_restart_fail_within_the_liveness_timeout(
    nats_server: EmbeddedNats,
) -> None:
    reconnects: list[str] = []  # who was back on NATS first
    router = await _client(nats_server, 0.5, reconnects, "router")
    # The gateway's client waits longer between reconnects than the router's.
    gateway = await _client(nats_server, 3.0, reconnects, "gateway")
    taken: list[Msg] = []

    async def take(msg: Msg) -> None:
        taken.append(msg)

    await router.subscribe(INFER_SUBJECT, queue=INFER_QUEUE, cb=take)
    await router.flush()
    mux = ReplyMux(gateway, LIVENESS_TIMEOUT)
    await mux.start()
    await gateway.flush()
    try:
        started_at = time.monotonic()
        calls = [asyncio.create_task(_outcome(mux)) for _ in range(IN_FLIGHT)]
        await wait_for(lambda: len(taken) == IN_FLIGHT, timeout=5, message="requests taken")

        await asyncio.to_thread(nats_server.kill)
        await wait_for(lambda: not router.is_connected, timeout=5, message="router cut off")
        answer = msgspec.json.encode(InferEnd(status=200))
        for msg in taken:  # the router finishes meanwhile: its answers wait in its buffer
            await router.publish(msg.reply, answer, headers={"Hs-End": "1"})
        await asyncio.to_thread(nats_server.start)
        await wait_for(lambda: len(reconnects) == 2, timeout=10, message="both back on NATS")
        await router.flush()  # the router's buffered answers have reached the server

        outcomes = await asyncio.wait_for(asyncio.gather(*calls), timeout=LIVENESS_TIMEOUT + 5)
        if reconnects[0] == "router":  # the answers reached a server without the inbox
            assert [outcome for outcome, _ in outcomes] == ["failed"] * IN_FLIGHT
        else:  # the gateway's inbox was back in time: delivered
            assert [outcome for outcome, _ in outcomes] == ["answered"] * IN_FLIGHT
        for _, at in outcomes:  # either way within the timeout, never 300 s
            assert at - started_at < LIVENESS_TIMEOUT + 1.5, at - started_at
    finally:
        await router.close()
        await gateway.close()
