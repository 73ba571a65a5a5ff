"""The gateway notices a router that is gone within seconds, over real NATS: a stand-in router
in the inference queue group takes a request and then goes silent (as a SIGKILLed router, or
one whose messages a NATS restart lost), before any byte or in the middle of a stream. The
client gets a 502 in its route's API, or its stream ends with an error event, within the
liveness timeout (4 s), where it used to wait 300 s. A router that is still at work says so
and is waited for; with no router at all, NATS's "no responders" is a 503 at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
from inference_support import InferenceStack, inference_stack
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from hyperstrate_contracts.router import (
    INFER_QUEUE,
    INFER_SUBJECT,
    LIVENESS_HEADER,
    InferEnd,
    InferRequest,
)
from hyperstrate_kit.testing import Infrastructure, wait_for

LIVENESS_TIMEOUT = 4.0  # the gateway's default ROUTER_LIVENESS_TIMEOUT_SECS
SLACK = 2.0  # a loaded test machine
ROUTES = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
OPENAI_ANSWER = b'{"id":"c1","object":"chat.completion","choices":[]}'
Behaviour = Callable[[NatsClient, Msg, InferRequest], Awaitable[None]]


async def _end(nc: NatsClient, msg: Msg, status: int = 200, body: bytes = OPENAI_ANSWER) -> None:
    end = InferEnd(status=status, body=msgspec.Raw(body))
    await nc.publish(msg.reply, msgspec.json.encode(end), headers={"Hs-End": "1"})


async def _answers(nc: NatsClient, msg: Msg, request: InferRequest) -> None:
    await _end(nc, msg)


async def _goes_silent(nc: NatsClient, msg: Msg, request: InferRequest) -> None:
    """Takes the request and dies before saying anything."""


async def _streams_then_goes_silent(nc: NatsClient, msg: Msg, request: InferRequest) -> None:
    frame = b'data: {"choices":[{"index":0,"delta":{"content":"Once"}}]}\n\n'
    if request.api == "anthropic":
        frame = b'event: message_start\ndata: {"type":"message_start","message":{}}\n\n'
    await nc.publish(msg.reply, frame, headers={"Hs-Seq": "1"})


async def _works_long_and_says_so(nc: NatsClient, msg: Msg, request: InferRequest) -> None:
    """A slow upstream: 7 s of work (past the liveness timeout), a liveness message each second
    as the real router sends them, then the answer."""
    for _ in range(7):
        await asyncio.sleep(1.0)  # the stand-in's slow work, not a wait on the test's outcome
        await nc.publish(msg.reply, b"", headers={LIVENESS_HEADER: "1"})
    await _end(nc, msg)


BEHAVIOURS: dict[str, Behaviour] = {
    "answer": _answers,
    "silent": _goes_silent,
    "stream then silent": _streams_then_goes_silent,
    "long work": _works_long_and_says_so,
}


@asynccontextmanager
async def _stand_in_router(stack: InferenceStack) -> AsyncIterator[list[str]]:
    """A router in the inference queue group that does what the prompt's text names."""
    taken: list[str] = []
    tasks: set[asyncio.Task[None]] = set()

    async def on_request(msg: Msg) -> None:
        request = msgspec.json.decode(msg.data, type=InferRequest)
        body: Any = json.loads(bytes(request.body))
        taken.append(request.request_id)
        behaviour = BEHAVIOURS[body["messages"][0]["content"]]
        task = asyncio.create_task(behaviour(stack.nc, msg, request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    subscription = await stack.nc.subscribe(INFER_SUBJECT, queue=INFER_QUEUE, cb=on_request)
    try:
        yield taken
    finally:
        await subscription.unsubscribe()
        for task in tasks:
            task.cancel()


async def _post(
    stack: InferenceStack, key: str, api: str, behaviour: str, stream: bool = False
) -> tuple[int, dict[str, str], str, float]:
    """Status, headers, text and seconds taken of one request to the router named `edge`."""
    body = {
        "model": "edge",
        "max_tokens": 16,
        "stream": stream,
        "messages": [{"role": "user", "content": behaviour}],
    }
    started = time.monotonic()
    async with (
        stack.client(key) as client,
        client.stream("POST", ROUTES[api], json=body) as answer,
    ):
        text = (await answer.aread()).decode()
        return answer.status_code, dict(answer.headers), text, time.monotonic() - started


async def _setup(stack: InferenceStack) -> str:
    await stack.router("edge", [stack.register()])
    return await stack.api_key()


async def _until_known(stack: InferenceStack, key: str) -> None:
    """Until the gateway knows the key and the router (a request reaches the stand-in)."""

    async def answered() -> bool:
        return (await _post(stack, key, "openai", "answer"))[0] == 200

    await wait_for(answered, timeout=15, message="the gateway to know the key and router")


def _assert_api_error(api: str, text: str, status_type: str = "api_error") -> str:
    body = json.loads(text)
    if api == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == status_type, body
        message: str = body["error"]["message"]
    else:
        assert body["error"]["type"] == status_type, body
        message = body["error"]["message"]
    return message


async def test_a_router_that_dies_before_answering_is_a_502_within_the_liveness_timeout(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure, router_replicas=0) as stack:
        key = await _setup(stack)
        async with _stand_in_router(stack) as taken:
            await _until_known(stack, key)
            for api in ("openai", "anthropic"):
                before = len(taken)
                status, _, text, took = await _post(stack, key, api, "silent")
                assert len(taken) == before + 1  # a router took it, then said nothing
                assert status == 502, text
                assert "stopped answering" in _assert_api_error(api, text)
                assert LIVENESS_TIMEOUT - 0.5 <= took < LIVENESS_TIMEOUT + SLACK, took


async def test_a_stream_whose_router_dies_ends_with_an_error_event(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure, router_replicas=0) as stack:
        key = await _setup(stack)
        async with _stand_in_router(stack):
            await _until_known(stack, key)
            for api in ("openai", "anthropic"):
                status, _, text, took = await _post(stack, key, api, "stream then silent", True)
                assert status == 200  # the stream had begun
                assert took < LIVENESS_TIMEOUT + SLACK, took
                first, error = text.strip().split("\n\n")
                assert "Once" in first or "message_start" in first
                if api == "anthropic":  # Anthropic's SDK raises on `event: error`
                    event, data = error.split("\n")
                    assert event == "event: error"
                else:  # OpenAI's SDK raises on a data frame with `error`
                    data = error
                _assert_api_error(api, data.removeprefix("data: "))
                assert "[DONE]" not in text


async def test_a_router_at_work_past_the_timeout_keeps_the_request_alive(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure, router_replicas=0) as stack:
        key = await _setup(stack)
        async with _stand_in_router(stack):
            await _until_known(stack, key)
            status, _, text, took = await _post(stack, key, "openai", "long work")
            assert status == 200, text
            assert json.loads(text)["id"] == "c1"
            assert took > LIVENESS_TIMEOUT  # answered after the silence deadline would be


async def test_with_no_router_at_all_the_answer_is_a_503_at_once_in_the_route_s_api(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure, router_replicas=0) as stack:
        key = await _setup(stack)
        async with _stand_in_router(stack):
            await _until_known(stack, key)
        # The stand-in has left the queue group: NATS answers "no responders".
        for api in ("openai", "anthropic"):
            status, headers, text, took = await _post(stack, key, api, "answer")
            assert status == 503, text
            assert _assert_api_error(api, text) == "no router is available"
            assert headers["retry-after"] == "1"
            assert took < 1.0 + SLACK, took
