"""The router SIGKILLed on the running stack (`just up`) while whole and streamed requests are
in flight: each is answered within 5 s of the kill, a 502 in its API or a stream that ends with
an error event the OpenAI and the Anthropic SDK raise on; none hangs (they waited 300 s
before). Requests while no router runs are a 503 at once; the stack starts the router again by
itself and inference works again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import pytest_asyncio
from stack_support import Demo, running_demo

from hyperstrate_kit.testing import wait_for

# The stack starts within the first test's time: up to stack_support's READY_TIMEOUT (240 s).
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

ANSWER_WITHIN = 5.0  # seconds from the kill to each in-flight request's answer
MESSAGES: Any = [{"role": "user", "content": "Tell me a long story."}]


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with running_demo(tmp_path_factory.mktemp("router-faults")) as started:
        yield started


def _router_pid(demo: Demo) -> int:
    """The pid of the stack's router service (a child of `devstack up`)."""
    assert demo.stack.process is not None
    parent = str(demo.stack.process.pid)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[1] == parent and b"hyperstrate_router" in command:
            return int(entry.name)
    raise AssertionError("no router process under the stack")


async def _whole(client: openai.AsyncOpenAI, model: str) -> tuple[Any, float]:
    """What one whole request came to (the answer or the error), and when."""
    try:
        outcome: Any = await client.chat.completions.create(model=model, messages=MESSAGES)
    except openai.APIError as error:
        outcome = error
    return outcome, time.monotonic()


async def _openai_stream(
    client: openai.AsyncOpenAI, model: str, started: asyncio.Event
) -> tuple[Any, float]:
    try:
        stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
        async for _ in stream:
            started.set()
        outcome: Any = "ended without an error"
    except openai.APIError as error:
        outcome = error
    return outcome, time.monotonic()


async def _anthropic_stream(
    client: anthropic.AsyncAnthropic, model: str, started: asyncio.Event
) -> tuple[Any, float]:
    try:
        async with client.messages.stream(model=model, max_tokens=64, messages=MESSAGES) as stream:
            async for _ in stream:
                started.set()
        outcome: Any = "ended without an error"
    except anthropic.APIError as error:
        outcome = error
    return outcome, time.monotonic()


def _status(outcome: Any) -> int | None:
    return getattr(outcome, "status_code", None)


async def test_requests_in_flight_when_the_router_is_killed_are_answered_within_5_s(
    demo: Demo,
) -> None:
    # Slow answers, so that each is in flight when the router dies: 10 s before a whole
    # answer, a stream of 40 events 0.25 s apart.
    await demo.router("slow-whole", ["fake-gpt;latency=10000"])
    await demo.router("slow-stream", ["fake-gpt;tokens=40;chunk_latency=250"])
    openai_client = demo.openai()
    anthropic_client = anthropic.AsyncAnthropic(
        base_url=demo.gateway, api_key=demo.key, max_retries=0
    )
    streams_started = [asyncio.Event() for _ in range(4)]
    whole = [asyncio.create_task(_whole(openai_client, "slow-whole")) for _ in range(4)]
    streams = [
        asyncio.create_task(_openai_stream(openai_client, "slow-stream", started))
        for started in streams_started[:2]
    ] + [
        asyncio.create_task(_anthropic_stream(anthropic_client, "slow-stream", started))
        for started in streams_started[2:]
    ]
    await wait_for(
        lambda: all(started.is_set() for started in streams_started),
        timeout=20,
        message="every stream to have begun",
    )
    assert not any(task.done() for task in whole)  # 10 s of latency: all still in flight

    router_pid = _router_pid(demo)
    os.kill(router_pid, signal.SIGKILL)
    killed_at = time.monotonic()

    for outcome, at in await asyncio.gather(*whole):
        assert _status(outcome) in (502, 503), outcome
        assert isinstance(outcome, openai.APIStatusError)
        assert at - killed_at < ANSWER_WITHIN, at - killed_at
    for outcome, at in await asyncio.gather(*streams):
        # The SDKs raise on the error event that ends the stream (no silent end).
        assert isinstance(outcome, openai.APIError | anthropic.APIError), outcome
        assert "stopped answering" in str(outcome), outcome
        assert at - killed_at < ANSWER_WITHIN, at - killed_at

    # Until the stack has the router back, a request is a 503 at once, never a hang.
    for _ in range(3):
        sent_at = time.monotonic()
        outcome, at = await _whole(openai_client, "slow-stream")
        if _status(outcome) is not None:  # else the new router answered already
            assert _status(outcome) == 503 and "no router is available" in str(outcome)
            assert at - sent_at < 1.0, at - sent_at

    def restarted() -> bool:
        try:
            return _router_pid(demo) != router_pid
        except AssertionError:
            return False

    await wait_for(restarted, timeout=30, message="the stack to start the router again")
    await demo.until_answering("slow-stream")  # answered again (15 s: the router's start-up)
    answer = await openai_client.chat.completions.create(model="slow-stream", messages=MESSAGES)
    assert answer.choices[0].message.content
