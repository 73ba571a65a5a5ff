"""The structured_output stage: a matching answer passes, a mismatch gets one repair, and an
answer still off the schema is a clear 502. The provider's network is the only double."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from hyperstrate_contracts.catalog import Credentials, RegistrationInfo
from hyperstrate_contracts.router import Caller, InferRequest
from hyperstrate_providers import CompletionResult, TokenUsage, WireObject
from hyperstrate_providers.openai_types import ChatCompletion
from hyperstrate_router.application.inference.cache import MemoryResponseCache
from hyperstrate_router.application.inference.formats import stream_error_frame
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger, MemoryRateLimiter
from hyperstrate_router.application.inference.pipeline import InferencePipeline
from hyperstrate_router.application.inference.state import (
    PromptTable,
    RouterState,
    RouterTable,
    Target,
)
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector
from hyperstrate_router.domain.features import parse_feature_config

SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


class ScriptedProvider:
    """Answers with the given contents in turn, recording what it was asked."""

    def __init__(self, *contents: str) -> None:
        self.contents = list(contents)
        self.requests: list[dict[str, Any]] = []

    async def complete(self, config: Any, request: WireObject[Any]) -> CompletionResult:
        self.requests.append(request.raw)
        completion = {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": self.contents.pop(0)},
                }
            ],
        }
        return CompletionResult(WireObject.from_raw(completion, ChatCompletion), TokenUsage(10, 5))


class Catalog:
    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        return Credentials(
            registration_id=registration_id, org_id=org_id, provider="openai", model="m"
        )

    async def registration(self, org_id: str, registration_id: str) -> RegistrationInfo:
        return RegistrationInfo(
            id=registration_id,
            org_id=org_id,
            name="m",
            catalog_key="m",
            provider="openai",
            model="m",
        )


class Events:
    def __init__(self) -> None:
        self.emitted: list[Any] = []

    def emit(self, event: Any) -> None:
        self.emitted.append(event)


def _pipeline(
    provider: ScriptedProvider, feature: dict[str, Any]
) -> tuple[InferencePipeline, Events]:
    routers = RouterTable()
    routers.by_id["r"] = RouterState(
        id="r",
        org_id="o",
        name="r",
        strategy="round_robin",
        targets={"t": Target(id="t", registration_id="g")},
        features={"structured_output": parse_feature_config("structured_output", feature)},
    )
    latency, events = LatencyTracker(), Events()
    pipeline = InferencePipeline(
        routers,
        PromptTable(),
        Catalog(),
        provider,
        TargetSelector(latency),  # type: ignore[arg-type]
        latency,
        MemoryRateLimiter(),
        MemoryBudgetLedger(),
        MemoryResponseCache(),
        events,
    )
    return pipeline, events


def _request() -> InferRequest:
    body = {
        "model": "r",
        "messages": [{"role": "user", "content": "the answer?"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}},
    }
    return InferRequest(
        request_id="q",
        router_id="r",
        api="openai",
        caller=Caller(org_id="o", kind="api_key"),
        body=msgspec.Raw(msgspec.json.encode(body)),
    )


async def _no_frames(_: bytes) -> None:
    raise AssertionError("not a stream")


async def test_a_matching_answer_passes_untouched() -> None:
    provider = ScriptedProvider('{"answer": 42}')
    pipeline, _ = _pipeline(provider, {"repair": True, "maxRepairAttempts": 1})
    end = await pipeline.handle(_request(), _no_frames)
    assert end.status == 200 and len(provider.requests) == 1
    assert json.loads(json.loads(bytes(end.body))["choices"][0]["message"]["content"]) == {
        "answer": 42
    }


async def test_a_mismatch_is_repaired_once_and_both_calls_are_billed() -> None:
    provider = ScriptedProvider('{"answer": "forty-two"}', '{"answer": 42}')
    pipeline, events = _pipeline(provider, {"repair": True, "maxRepairAttempts": 1})
    end = await pipeline.handle(_request(), _no_frames)
    assert end.status == 200 and len(provider.requests) == 2
    repair = provider.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"answer": "forty-two"}'}
    assert "answer" in repair[-1]["content"] and "schema" in repair[-1]["content"]
    assert events.emitted[-1].input_tokens == 20 and events.emitted[-1].output_tokens == 10


async def test_still_off_the_schema_after_the_repair_is_a_502() -> None:
    provider = ScriptedProvider("not json", '{"wrong": true}')
    pipeline, events = _pipeline(provider, {"repair": True, "maxRepairAttempts": 1})
    end = await pipeline.handle(_request(), _no_frames)
    assert end.status == 502 and len(provider.requests) == 2
    error = json.loads(bytes(end.body))["error"]["message"]
    assert "does not match the requested JSON schema" in error and "answer" in error
    assert events.emitted[-1].type == "inference.failed"
    assert events.emitted[-1].error_class == "structured_output_invalid"


def test_a_stream_ends_with_an_error_frame_in_the_clients_api() -> None:
    openai = stream_error_frame("openai", 502, "off the schema", "structured_output_invalid")
    assert openai.startswith(b"data: ") and openai.endswith(b"\n\n")
    assert json.loads(openai[6:])["error"]["code"] == "structured_output_invalid"
    anthropic = stream_error_frame("anthropic", 502, "off the schema")
    event, data = anthropic.decode().strip().split("\n")
    assert event == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {
        "type": "error",
        "error": {"type": "api_error", "message": "off the schema"},
    }
