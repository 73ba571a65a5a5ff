"""Each stage of the inference pipeline alone: a context in, a `proceed` that stands for the
stages after it, and what a client would notice (a refusal, a replayed answer, a prompt)."""

from __future__ import annotations

import pytest
from stage_support import Downstream, budget_stage, make_context, no_frames

from hyperstrate_contracts.router import Caller
from hyperstrate_providers import TokenUsage
from hyperstrate_router.application.inference.cache import MemoryResponseCache
from hyperstrate_router.application.inference.context import Refusal
from hyperstrate_router.application.inference.limits import MemoryRateLimiter
from hyperstrate_router.application.inference.stages import (
    LinkedPromptStage,
    RateLimitStage,
    ResponseCacheStage,
)
from hyperstrate_router.application.inference.state import Prompt, PromptTable


async def test_rate_limit_refuses_past_the_burst_without_calling_the_model() -> None:
    stage = RateLimitStage(MemoryRateLimiter())
    features = {"rate_limit": {"requestsPerSecond": 0.01, "burst": 2}}
    downstream_calls = 0
    for _ in range(2):
        context = make_context(features)
        downstream = Downstream(context)
        await stage(context, no_frames, downstream)
        downstream_calls += downstream.calls
    assert downstream_calls == 2
    context = make_context(features)
    third = Downstream(context)
    with pytest.raises(Refusal) as refused:
        await stage(context, no_frames, third)
    assert refused.value.status == 429 and refused.value.retry_after
    assert third.calls == 0


async def test_a_router_without_the_feature_passes_through() -> None:
    context = make_context()
    downstream = Downstream(context)
    await RateLimitStage(MemoryRateLimiter())(context, no_frames, downstream)
    await budget_stage()(context, no_frames, downstream)
    await ResponseCacheStage(MemoryResponseCache())(context, no_frames, downstream)
    await LinkedPromptStage(PromptTable())(context, no_frames, downstream)
    assert downstream.calls == 4


async def test_budget_counts_what_ran_and_releases_what_was_refused_early() -> None:
    stage = budget_stage()
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk1", max_requests=2)
    refused_early = make_context(caller=capped)
    with pytest.raises(Refusal):
        await stage(refused_early, no_frames, Downstream(refused_early, Refusal(400, "bad")))
    # Refused before a model ran: the reservation went back, so two requests still fit.
    for _ in range(2):
        context = make_context(caller=capped)
        await stage(context, no_frames, Downstream(context))
    over = make_context(caller=capped)
    over_downstream = Downstream(over)
    with pytest.raises(Refusal) as refused:
        await stage(over, no_frames, over_downstream)
    assert refused.value.status == 429 and "vk" in refused.value.message
    assert over_downstream.calls == 0


async def test_budget_bills_a_call_that_failed_after_the_model_ran() -> None:
    stage = budget_stage()
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk2", max_requests=1)
    context = make_context(caller=capped)

    async def ran_then_failed() -> None:
        context.target = context.router.targets["t"]
        raise Refusal(502, "the answer is off its schema")

    with pytest.raises(Refusal):
        await stage(context, no_frames, ran_then_failed)
    with pytest.raises(Refusal) as refused:
        second = make_context(caller=capped)
        await stage(second, no_frames, Downstream(second))
    assert refused.value.status == 429


async def test_cache_replays_a_stream_as_a_stream_without_calling_the_model() -> None:
    stage = ResponseCacheStage(MemoryResponseCache())
    features = {"response_cache": {"ttlSeconds": 60}}
    body = {"model": "r", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    first = make_context(features, body=body)
    await stage(first, no_frames, Downstream(first))
    replayed: list[bytes] = []

    async def collect(frame: bytes) -> None:
        replayed.append(frame)

    second = make_context(features, body=body)
    downstream = Downstream(second)
    await stage(second, collect, downstream)
    assert downstream.calls == 0
    assert replayed == [b"data: one\n\n", b"data: two\n\n"]
    assert second.cache_hit and second.usage == TokenUsage(3, 2)
    # Another request is its own entry.
    other = make_context(features, body={**body, "messages": [{"role": "user", "content": "bye"}]})
    other_downstream = Downstream(other)
    await stage(other, collect, other_downstream)
    assert other_downstream.calls == 1


async def test_cache_keeps_nothing_of_a_failed_call() -> None:
    stage = ResponseCacheStage(MemoryResponseCache())
    features = {"response_cache": {"ttlSeconds": 60}}
    failed = make_context(features)
    with pytest.raises(Refusal):
        await stage(failed, no_frames, Downstream(failed, Refusal(502, "upstream failed")))
    retried = make_context(features)
    downstream = Downstream(retried)
    await stage(retried, no_frames, downstream)
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
    context = make_context(body=body, prompt_id="pmt")
    downstream = Downstream(context)
    await stage(context, no_frames, downstream)
    assert downstream.calls == 1
    assert context.chat.raw["messages"][0] == {
        "role": "system",
        "content": "You answer as a pirate.",
    }
    assert context.chat.raw["messages"][1]["content"] == "hi"
    assert "variables" not in context.chat.raw  # not sent on to the provider

    missing = make_context(prompt_id="pmt")
    with pytest.raises(Refusal) as refused:
        await stage(missing, no_frames, Downstream(missing))
    assert refused.value.status == 400 and "persona" in refused.value.message
