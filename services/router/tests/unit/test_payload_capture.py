"""`storePayloads`: the request as the model got it and the answer as the client got it (a
stream assembled into one body, in the client's API), each cut at the cap with the cut
flagged; a router without it hands the event sink nothing to build."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec

from hyperstrate_contracts.catalog import Credentials, RegistrationInfo
from hyperstrate_contracts.inference import InferencePayloadCaptured
from hyperstrate_contracts.router import Caller, InferRequest
from hyperstrate_providers import CompletionResult, TokenUsage, WireObject
from hyperstrate_providers.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    FunctionCallDelta,
    ToolCallDelta,
    Usage,
)
from hyperstrate_providers.translate import OpenAIStreamToAnthropic
from hyperstrate_router.application.inference.cache import MemoryResponseCache
from hyperstrate_router.application.inference.formats import (
    OPENAI_DONE,
    anthropic_frame,
    canonical_request,
    openai_frame,
)
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger, MemoryRateLimiter
from hyperstrate_router.application.inference.payloads import (
    PayloadCapture,
    assembled_answer,
    within_cap,
)
from hyperstrate_router.application.inference.pipeline import InferencePipeline
from hyperstrate_router.application.inference.state import (
    Prompt,
    PromptTable,
    RouterState,
    RouterTable,
    Target,
)
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector


def _chunk(delta: Delta, finish: str | None = None) -> ChatCompletionChunk:
    return ChatCompletionChunk(
        id="chatcmpl-1",
        created=7,
        model="fake-gpt",
        choices=[ChunkChoice(index=0, delta=delta, finish_reason=finish)],
    )


STREAM = [
    _chunk(Delta(role="assistant", content="")),
    _chunk(Delta(content="Hello, ")),
    _chunk(Delta(content="world.")),
    _chunk(
        Delta(
            tool_calls=[
                ToolCallDelta(
                    index=0,
                    id="call_1",
                    type="function",
                    function=FunctionCallDelta(name="get_weather", arguments='{"city":'),
                )
            ]
        )
    ),
    _chunk(
        Delta(tool_calls=[ToolCallDelta(index=0, function=FunctionCallDelta(arguments='"Paris"}'))])
    ),
    _chunk(Delta(), finish="tool_calls"),
    ChatCompletionChunk(
        id="chatcmpl-1",
        created=7,
        model="fake-gpt",
        choices=[],
        usage=Usage(prompt_tokens=5, completion_tokens=9, total_tokens=14),
    ),
]


def test_an_openai_stream_is_assembled_into_one_chat_completion() -> None:
    frames = [openai_frame(WireObject(chunk)) for chunk in STREAM] + [OPENAI_DONE]
    answer = json.loads(assembled_answer("openai", frames))
    assert answer["object"] == "chat.completion" and answer["id"] == "chatcmpl-1"
    choice = answer["choices"][0]
    assert choice["message"]["content"] == "Hello, world."
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert choice["finish_reason"] == "tool_calls"
    assert answer["usage"]["completion_tokens"] == 9


def test_an_anthropic_stream_is_assembled_into_one_message() -> None:
    translator = OpenAIStreamToAnthropic(model="fake-gpt")
    events = [event for chunk in STREAM for event in translator.feed(chunk)]
    frames = [anthropic_frame(event) for event in [*events, *translator.finish()]]
    answer = json.loads(assembled_answer("anthropic", frames))
    assert answer["type"] == "message" and answer["role"] == "assistant"
    assert answer["content"] == [
        {"type": "text", "text": "Hello, world."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
    ]
    assert answer["stop_reason"] == "tool_use"


def test_frames_that_cannot_be_read_are_kept_as_they_came() -> None:
    frames = [openai_frame(WireObject(STREAM[1])), b'data: {"error": {"message": "cut"}}\n\n']
    assert assembled_answer("openai", frames) == b"".join(frames)


def test_a_body_over_the_cap_is_cut_on_a_character_boundary_and_flagged() -> None:
    assert within_cap(b'{"a":"short"}', 64) == ('{"a":"short"}', False)
    text, truncated = within_cap(("é" * 10).encode(), 5)  # 2 bytes each: 5 cuts one in half
    assert (text, truncated) == ("éé", True)


def test_the_capture_cuts_each_body_at_the_cap() -> None:
    long_request = canonical_request(
        "openai",
        msgspec.json.encode({"model": "r", "messages": [{"role": "user", "content": "x" * 500}]}),
    )
    capture = PayloadCapture(
        org_id="o",
        request_id="q",
        router_id="r",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        api="openai",
        request=long_request,
        model="fake-gpt",
        body=b'{"short": true}',
        frames=[],
        max_bytes=100,
    )
    event = capture()
    assert event.request_truncated and len(event.request_body.encode()) == 100
    assert event.request_body.startswith('{"model":"fake-gpt"')  # the target's model
    assert not event.response_truncated and event.response_body == '{"short": true}'
    failed = dataclasses.replace(capture, body=b"", failure=(429, "slow down"))()
    assert json.loads(failed.response_body)["error"]["message"] == "slow down"


# -- through the pipeline ------------------------------------------------------------------


class Provider:
    """The model's network stand-in: answers one whole completion, records the request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    async def complete(self, config: Any, request: WireObject[Any]) -> CompletionResult:
        self.requests.append(request.raw)
        completion = {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "target-model",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "Arr, hello."},
                }
            ],
        }
        return CompletionResult(WireObject.from_raw(completion, ChatCompletion), TokenUsage(10, 5))


class Catalog:
    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        return Credentials(
            registration_id=registration_id, org_id=org_id, provider="openai", model="target-model"
        )

    async def registration(self, org_id: str, registration_id: str) -> RegistrationInfo:
        return RegistrationInfo(
            id=registration_id,
            org_id=org_id,
            name="m",
            catalog_key="m",
            provider="openai",
            model="target-model",
        )


class Events:
    def __init__(self) -> None:
        self.emitted: list[Any] = []
        self.builders: list[Callable[[], InferencePayloadCaptured]] = []

    def emit(self, event: Any) -> None:
        self.emitted.append(event)

    def emit_later(self, build: Callable[[], InferencePayloadCaptured]) -> None:
        self.builders.append(build)


async def _infer(store_payloads: bool) -> tuple[Events, Provider]:
    routers, prompts = RouterTable(), PromptTable()
    routers.by_id["r"] = RouterState(
        id="r",
        org_id="o",
        name="r",
        strategy="round_robin",
        targets={"t": Target(id="t", registration_id="g")},
        prompt_id="p",
        store_payloads=store_payloads,
    )
    prompts.by_id["p"] = Prompt("o", "You answer as {{persona}}.", ("persona",))
    latency, events, provider = LatencyTracker(), Events(), Provider()
    pipeline = InferencePipeline(
        routers,
        prompts,
        Catalog(),
        provider,  # type: ignore[arg-type]
        TargetSelector(latency),
        latency,
        MemoryRateLimiter(),
        MemoryBudgetLedger(),
        MemoryResponseCache(),
        events,
    )
    body = {
        "model": "r",
        "variables": {"persona": "a pirate"},
        "messages": [{"role": "user", "content": "hello"}],
    }
    request = InferRequest(
        request_id="q",
        router_id="r",
        api="openai",
        caller=Caller(org_id="o", kind="api_key"),
        body=msgspec.Raw(msgspec.json.encode(body)),
    )

    async def no_frames(_: bytes) -> None:
        raise AssertionError("not a stream")

    end = await pipeline.handle(request, no_frames)
    assert end.status == 200
    return events, provider


async def test_the_stored_request_is_the_one_the_model_got_linked_prompt_included() -> None:
    events, provider = await _infer(store_payloads=True)
    [build] = events.builders
    payload = build()
    assert payload.org_id == "o" and payload.request_id == "q" and payload.router_id == "r"
    assert json.loads(payload.request_body) == provider.requests[0]
    assert json.loads(payload.request_body)["messages"][0] == {
        "role": "system",
        "content": "You answer as a pirate.",
    }
    answer = json.loads(payload.response_body)
    assert answer["choices"][0]["message"]["content"] == "Arr, hello."
    [completed] = events.emitted
    assert payload.occurred_at == completed.occurred_at  # purged with its log


async def test_a_router_without_store_payloads_hands_over_nothing_to_build() -> None:
    events, _ = await _infer(store_payloads=False)
    assert events.builders == [] and len(events.emitted) == 1
