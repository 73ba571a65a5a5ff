"""A stream the upstream breaks off (`break=3`: the connection closes midway) or ends cleanly
without its terminal event (`cut=3`), through the gateway, on both wire formats and across
translation: before the first frame the router retries and falls back; after it, the stream
ends with an error frame the client's SDK raises on (no `[DONE]`, no `message_stop`), the
request is logged as failed and what ran is billed, budgets included."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from inference_support import InferenceStack, inference_stack
from nats.aio.msg import Msg

from hyperstrate_kit.testing import Infrastructure, wait_for

FAULTS = ("break", "cut")
UPSTREAMS = {"openai": "fake-gpt", "anthropic": "fake-claude"}
# Events sent before the fault: two text deltas each (Anthropic's first three events are
# message_start, content_block_start and a ping).
EVENTS_BEFORE = {"openai": 3, "anthropic": 5}
ROUTES = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


class Streams:
    """One stack with a router per upstream wire format and fault, and what it publishes."""

    def __init__(self, stack: InferenceStack, key: str, failed: list[dict[str, Any]]) -> None:
        self.stack, self.key, self.failed = stack, key, failed

    async def stream(self, api: str, router: str) -> tuple[int, str, str]:
        """The status, the whole text and the request id of one streamed request."""
        body: dict[str, Any] = {
            "model": router,
            "stream": True,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "tell me a story"}],
        }
        headers = {"anthropic-version": "2023-06-01"} if api == "anthropic" else {}
        async with (
            self.stack.client(self.key) as client,
            client.stream("POST", ROUTES[api], json=body, headers=headers) as answer,
        ):
            text = (await answer.aread()).decode()
            return answer.status_code, text, answer.headers.get("x-request-id", "")

    async def failure_of(self, request_id: str) -> dict[str, Any]:
        """The `inference.failed` event of a request."""

        def found() -> dict[str, Any] | None:
            return next((e for e in self.failed if e["request_id"] == request_id), None)

        event: dict[str, Any] = await wait_for(found, timeout=10, message="inference.failed")
        return event


async def _events(stack: InferenceStack, subject: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def keep(msg: Msg) -> None:
        seen.append(msgspec.json.decode(msg.data))

    await stack.nc.subscribe(subject, cb=keep)
    return seen


def _router_name(upstream: str, fault: str) -> str:
    return f"{upstream}-{fault}"


@pytest_asyncio.fixture(scope="module")
async def streams(infrastructure: Infrastructure) -> AsyncIterator[Streams]:
    async with inference_stack(infrastructure) as stack:
        for upstream, model in UPSTREAMS.items():
            for fault in FAULTS:
                script = f"tokens=12;{fault}={EVENTS_BEFORE[upstream]}"
                registration = stack.register(f"{model};{script}", provider=upstream)
                await stack.router(_router_name(upstream, fault), [registration])
        whole = stack.register("fake-gpt")
        for fault in ("break=0", "cut=0"):  # nothing reaches the client: fall back
            first = stack.register(f"fake-gpt;{fault}")
            await stack.router(
                f"fallback-{fault.replace('=', '')}",
                [first, whole],
                strategy="failover",
                features={"fallback": {}},
            )
        retry = {"retry": {"maxAttempts": 3, "initialBackoffMs": 1}}
        await stack.router("retried-break0", [stack.register("fake-gpt;break=0")], features=retry)
        key = await stack.api_key()
        failed = await _events(stack, "inference.failed")
        ready = Streams(stack, key, failed)

        async def known() -> bool:  # the gateway knows the key, the router the routers
            status, _, _ = await ready.stream("openai", "fallback-break0")
            return status == 200

        await wait_for(known, timeout=10, message="the routers known")
        yield ready


def _openai_frames(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


def _anthropic_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((lines.get("event", ""), json.loads(lines.get("data", "null"))))
    return events


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
async def test_an_openai_stream_broken_midway_ends_with_an_error_chunk(
    streams: Streams, upstream: str, fault: str
) -> None:
    status, text, request_id = await streams.stream("openai", _router_name(upstream, fault))

    assert status == 200  # the stream had started
    frames = _openai_frames(text)
    assert "[DONE]" not in frames
    chunks = [json.loads(frame) for frame in frames]
    assert any(c["choices"] and c["choices"][0]["delta"].get("content") for c in chunks[:-1])
    assert not any(c["choices"] and c["choices"][0].get("finish_reason") for c in chunks[:-1])
    error = chunks[-1]["error"]
    assert error["code"] == "stream_interrupted" and error["type"] == "api_error"
    assert "broke off midway" in error["message"]
    await _assert_failed_and_billed(streams, request_id)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
async def test_an_anthropic_stream_broken_midway_ends_with_an_error_event(
    streams: Streams, upstream: str, fault: str
) -> None:
    status, text, request_id = await streams.stream("anthropic", _router_name(upstream, fault))

    assert status == 200
    events = _anthropic_events(text)
    names = [name for name, _ in events]
    assert names[0] == "message_start" and "content_block_delta" in names
    assert names[-1] == "error" and "message_stop" not in names
    error = events[-1][1]
    assert error["type"] == "error" and error["error"]["type"] == "api_error"
    assert "broke off midway" in error["error"]["message"]
    await _assert_failed_and_billed(streams, request_id)


async def _assert_failed_and_billed(streams: Streams, request_id: str) -> None:
    event = await streams.failure_of(request_id)
    assert event["status_code"] == 502 and event["error_class"] == "stream_interrupted"
    assert event["stream"] is True
    assert event["input_tokens"] > 0 and 0 < event["output_tokens"] < 12  # what ran
    assert event["cost_usd"] > 0


@pytest.mark.parametrize("fault", ["break0", "cut0"])
async def test_a_stream_broken_before_its_first_frame_falls_back(
    streams: Streams, fault: str
) -> None:
    status, text, _ = await streams.stream("openai", f"fallback-{fault}")

    assert status == 200
    frames = _openai_frames(text)
    assert frames[-1] == "[DONE]" and not any('"error"' in frame for frame in frames)


async def test_a_stream_broken_before_its_first_frame_is_retried_then_a_502(
    streams: Streams,
) -> None:
    upstream = streams.stack.upstream
    assert upstream is not None
    before = len(upstream.requests)

    status, text, request_id = await streams.stream("openai", "retried-break0")

    assert status == 502  # no frame had left: the status says it, as for any failure
    assert json.loads(text)["error"]["type"] == "api_error"
    assert len(upstream.requests) - before == 3  # maxAttempts
    event = await streams.failure_of(request_id)
    assert event["error_class"] == "connection"


async def test_a_broken_stream_settles_the_budget_on_what_ran(streams: Streams) -> None:
    stack = streams.stack
    key_id = "vk_broken_stream"
    capped = await stack.api_key(key_id=key_id, max_cost_usd=10.0)
    body = {
        "model": _router_name("openai", "break"),
        "stream": True,
        "messages": [{"role": "user", "content": "tell me a story"}],
    }

    async def broken_stream() -> str | None:
        async with (
            stack.client(capped) as client,
            client.stream("POST", ROUTES["openai"], json=body) as answer,
        ):
            await answer.aread()
            return answer.headers.get("x-request-id") if answer.status_code == 200 else None

    request_id = await wait_for(broken_stream, timeout=10, message="the virtual key known")
    event = await streams.failure_of(request_id)
    ledger = stack.pipelines()[0].stages[1].ledger
    requests, cost = ledger.used(f"vk:{key_id}")
    assert requests == 1 and cost == pytest.approx(event["cost_usd"]) and cost > 0
