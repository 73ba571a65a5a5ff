"""Each stage of the inference pipeline alone: a context in, a `proceed` that stands for the
stages after it, and what a client would notice (a refusal, a replayed answer, a prompt)."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from hyperstrate_contracts.router import Caller, InferRequest
from hyperstrate_providers import TokenUsage
from hyperstrate_router.application.inference.cache import MemoryResponseCache
from hyperstrate_router.application.inference.context import InferenceContext, Refusal
from hyperstrate_router.application.inference.formats import canonical_request
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger, MemoryRateLimiter
from hyperstrate_router.application.inference.stages import (
    BudgetStage,
    LinkedPromptStage,
    RateLimitStage,
    ResponseCacheStage,
)
from hyperstrate_router.application.inference.state import Prompt, PromptTable, RouterState, Target
from hyperstrate_router.domain.features import parse_feature_config


def _context(
    features: dict[str, dict[str, Any]] | None = None,
    caller: Caller | None = None,
    body: dict[str, Any] | None = None,
    prompt_id: str | None = None,
) -> InferenceContext:
    router = RouterState(
        id="rtr",
        org_id="org",
        name="r",
        strategy="round_robin",
        targets={"t": Target(id="t", registration_id="reg")},
        features={kind: parse_feature_config(kind, cfg) for kind, cfg in (features or {}).items()},
        prompt_id=prompt_id,
    )
    raw = msgspec.json.encode(
        body or {"model": "r", "messages": [{"role": "user", "content": "hi"}]}
    )
    request = InferRequest(
        request_id="req",
        router_id="rtr",
        api="openai",
        caller=caller or Caller(org_id="org", kind="api_key"),
        body=msgspec.Raw(raw),
    )
    chat = canonical_request("openai", raw)
    return InferenceContext(
        request=request,
        router=router,
        chat=chat,
        started=time.perf_counter(),
        stream=bool(chat.typed.stream),
    )


class Downstream:
    """Stands for the stages after the one under test: counts calls, answers or fails."""

    def __init__(self, context: InferenceContext, fail: Exception | None = None) -> None:
        self.context, self.fail, self.calls = context, fail, 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        self.context.target = self.context.router.targets["t"]
        self.context.frames = [b"data: one\n\n", b"data: two\n\n"]
        self.context.body = b'{"answer": 1}'
        self.context.usage = TokenUsage(3, 2)
        self.context.cost = 0.25


async def _no_frames(_: bytes) -> None:
    raise AssertionError("this stage sends no frames")


async def test_rate_limit_refuses_past_the_burst_without_calling_the_model() -> None:
    stage = RateLimitStage(MemoryRateLimiter())
    features = {"rate_limit": {"requestsPerSecond": 0.01, "burst": 2}}
    downstream_calls = 0
    for _ in range(2):
        context = _context(features)
        downstream = Downstream(context)
        await stage(context, _no_frames, downstream)
        downstream_calls += downstream.calls
    assert downstream_calls == 2
    context = _context(features)
    third = Downstream(context)
    with pytest.raises(Refusal) as refused:
        await stage(context, _no_frames, third)
    assert refused.value.status == 429 and refused.value.retry_after
    assert third.calls == 0


async def test_a_router_without_the_feature_passes_through() -> None:
    context = _context()
    downstream = Downstream(context)
    await RateLimitStage(MemoryRateLimiter())(context, _no_frames, downstream)
    await BudgetStage(MemoryBudgetLedger())(context, _no_frames, downstream)
    await ResponseCacheStage(MemoryResponseCache())(context, _no_frames, downstream)
    await LinkedPromptStage(PromptTable())(context, _no_frames, downstream)
    assert downstream.calls == 4


async def test_budget_counts_what_ran_and_releases_what_was_refused_early() -> None:
    stage = BudgetStage(MemoryBudgetLedger())
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk1", max_requests=2)
    refused_early = _context(caller=capped)
    with pytest.raises(Refusal):
        await stage(refused_early, _no_frames, Downstream(refused_early, Refusal(400, "bad")))
    # Refused before a model ran: the reservation went back, so two requests still fit.
    for _ in range(2):
        context = _context(caller=capped)
        await stage(context, _no_frames, Downstream(context))
    over = _context(caller=capped)
    over_downstream = Downstream(over)
    with pytest.raises(Refusal) as refused:
        await stage(over, _no_frames, over_downstream)
    assert refused.value.status == 429 and "vk" in refused.value.message
    assert over_downstream.calls == 0


async def test_budget_bills_a_call_that_failed_after_the_model_ran() -> None:
    stage = BudgetStage(MemoryBudgetLedger())
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk2", max_requests=1)
    context = _context(caller=capped)

    async def ran_then_failed() -> None:
        context.target = context.router.targets["t"]
        raise Refusal(502, "the answer is off its schema")

    with pytest.raises(Refusal):
        await stage(context, _no_frames, ran_then_failed)
    with pytest.raises(Refusal) as refused:
        second = _context(caller=capped)
        await stage(second, _no_frames, Downstream(second))
    assert refused.value.status == 429


async def test_cache_replays_a_stream_as_a_stream_without_calling_the_model() -> None:
    stage = ResponseCacheStage(MemoryResponseCache())
    features = {"response_cache": {"ttlSeconds": 60}}
    body = {"model": "r", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    first = _context(features, body=body)
    await stage(first, _no_frames, Downstream(first))
    replayed: list[bytes] = []

    async def collect(frame: bytes) -> None:
        replayed.append(frame)

    second = _context(features, body=body)
    downstream = Downstream(second)
    await stage(second, collect, downstream)
    assert downstream.calls == 0
    assert replayed == [b"data: one\n\n", b"data: two\n\n"]
    assert second.cache_hit and second.usage == TokenUsage(3, 2)
    # Another request is its own entry.
    other = _context(features, body={**body, "messages": [{"role": "user", "content": "bye"}]})
    other_downstream = Downstream(other)
    await stage(other, collect, other_downstream)
    assert other_downstream.calls == 1


async def test_cache_keeps_nothing_of_a_failed_call() -> None:
    stage = ResponseCacheStage(MemoryResponseCache())
    features = {"response_cache": {"ttlSeconds": 60}}
    failed = _context(features)
    with pytest.raises(Refusal):
        await stage(failed, _no_frames, Downstream(failed, Refusal(502, "upstream failed")))
    retried = _context(features)
    downstream = Downstream(retried)
    await stage(retried, _no_frames, downstream)
    assert downstream.calls == 1 and not retried.cache_hit


async def test_linked_prompt_goes_first_with_its_variables_filled() -> None:
    prompts = PromptTable()
    prompts.by_id["pmt"] = Prompt("org", "You answer as {{persona}}.", ("persona",))
    stage = LinkedPromptStage(prompts)
    body = {
        "model": "r",
        "variables": {"persona": "a pirate"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    context = _context(body=body, prompt_id="pmt")
    downstream = Downstream(context)
    await stage(context, _no_frames, downstream)
    assert downstream.calls == 1
    assert context.chat.raw["messages"][0] == {
        "role": "system",
        "content": "You answer as a pirate.",
    }
    assert context.chat.raw["messages"][1]["content"] == "hi"
    assert "variables" not in context.chat.raw  # not sent on to the provider

    missing = _context(prompt_id="pmt")
    with pytest.raises(Refusal) as refused:
        await stage(missing, _no_frames, Downstream(missing))
    assert refused.value.status == 400 and "persona" in refused.value.message
