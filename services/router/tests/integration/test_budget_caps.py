"""Cost caps through the gateway: they hold under 64 concurrent callers (whole and streamed),
across a router restart (observability's record, then the INFERENCE stream), and across
router replicas on the memory ledger."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from inference_support import InferenceStack, inference_stack

from hyperstrate_contracts.budgets import SubjectSpend, period_key
from hyperstrate_contracts.inference import InferenceCompleted
from hyperstrate_kit.testing import Infrastructure, wait_for

# $1,000 / $2,000 per million tokens: a request of "x" with max_tokens 20 may cost up to
# (5 prompt tokens + 20 output tokens) = $0.045, and really costs a little less.
PRICES = {"price_in": 1000.0, "price_out": 2000.0}
CAP_USD = 0.45


def _chat(router: str, stream: bool = False) -> dict[str, Any]:
    return {
        "model": router,
        "max_tokens": 20,
        "stream": stream,
        "messages": [{"role": "user", "content": "x"}],
    }


@contextlib.asynccontextmanager
async def _costs_of(stack: InferenceStack, key_id: str) -> AsyncIterator[list[float]]:
    """The cost of every billed inference event of a virtual key, as it is published."""
    costs: list[float] = []

    async def on_event(msg: Any) -> None:
        if msg.subject == "inference.completed":
            event = msgspec.json.decode(msg.data, type=InferenceCompleted)
            if event.virtual_key_id == key_id:
                costs.append(event.cost_usd)

    subscription = await stack.nc.subscribe("inference.>", cb=on_event)
    try:
        yield costs
    finally:
        await subscription.unsubscribe()


async def _ready(stack: InferenceStack, router: str) -> None:
    key = await stack.api_key()
    async with stack.client(key) as client:

        async def answered() -> bool:
            response = await client.post("/v1/chat/completions", json=_chat(router))
            return response.status_code == 200

        await wait_for(answered, timeout=10, message="the router to be known")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_cost_cap_holds_under_64_concurrent_callers(
    infrastructure: Infrastructure, stream: bool
) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router("priced", [stack.register(**PRICES)])
        await _ready(stack, "priced")
        key_id = f"vk_{uuid.uuid4().hex[:10]}"
        key = await stack.api_key(key_id=key_id, max_cost_usd=CAP_USD)
        async with _costs_of(stack, key_id) as costs, stack.client(key) as client:
            await wait_for(lambda: _answers(client, "priced"), timeout=5, message="the virtual key")
            body = _chat("priced", stream)
            results = await asyncio.gather(
                *(client.post("/v1/chat/completions", json=body) for _ in range(64))
            )
            succeeded = 1 + sum(r.status_code == 200 for r in results)
            refused = [r for r in results if r.status_code != 200]
            assert all(r.status_code == 429 for r in refused)
            assert "budget exceeded (vk)" in refused[0].text
            await wait_for(lambda: len(costs) == succeeded, timeout=10, message="every event")
        assert 0 < sum(costs) <= CAP_USD
        (ledger_requests, ledger_cost) = stack.pipelines()[0].stages[1].ledger.used(f"vk:{key_id}")
        assert ledger_requests == succeeded and ledger_cost == pytest.approx(sum(costs))


async def _answers(client: Any, router: str) -> bool:
    response = await client.post("/v1/chat/completions", json=_chat(router))
    return bool(response.status_code == 200)


async def _spend_until_refused(client: Any, router: str, limit: int = 20) -> int:
    for answered in range(limit):
        response = await client.post("/v1/chat/completions", json=_chat(router))
        if response.status_code != 200:
            assert response.status_code == 429, response.text
            return answered
    raise AssertionError("the cap never refused")


async def test_recorded_spend_counts_after_a_restart(infrastructure: Infrastructure) -> None:
    key_id = f"vk_{uuid.uuid4().hex[:10]}"
    before = SubjectSpend(
        subject=f"vk:{key_id}",
        requests={period_key("monthly"): 3, "all": 9},
        cost_usd={period_key("monthly"): 0.01, "all": 0.03},
    )
    async with inference_stack(infrastructure, recorded_spend=[before]) as stack:
        await stack.router("restored", [stack.register(**PRICES)])
        await _ready(stack, "restored")
        key = await stack.api_key(key_id=key_id, max_requests=5, reset_period="monthly")
        async with stack.client(key) as client:
            await wait_for(
                lambda: _answers(client, "restored"), timeout=5, message="the virtual key"
            )
            # 3 recorded + 1 above: one more fits in the month's 5.
            assert await _spend_until_refused(client, "restored") == 1


async def test_spend_just_before_a_restart_is_replayed_from_the_stream(
    infrastructure: Infrastructure,
) -> None:
    key_id = f"vk_{uuid.uuid4().hex[:10]}"
    async with inference_stack(infrastructure) as first:
        await first.router("replayed", [first.register(**PRICES)])
        await _ready(first, "replayed")
        key = await first.api_key(key_id=key_id, max_requests=5)
        async with first.client(key) as client:
            await wait_for(
                lambda: _answers(client, "replayed"), timeout=5, message="the virtual key"
            )
            for _ in range(2):
                assert await _answers(client, "replayed")
    # A new router (and gateway) on the same streams: observability has not logged anything
    # yet (its stand-in knows nothing), the INFERENCE stream has the three requests.
    async with inference_stack(infrastructure) as second:
        second.org_id = first.org_id
        for registration_id, info in first.registrations.items():
            second.registrations[registration_id] = msgspec.structs.replace(
                info, base_url=f"{second.upstream_url}/v1"
            )
        async with second.client(key) as client:
            assert await _spend_until_refused(client, "replayed") == 2


async def test_replicas_on_the_memory_ledger_learn_each_others_spend(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure, router_replicas=2) as stack:
        await stack.router("shared", [stack.register(**PRICES)])
        await _ready(stack, "shared")
        key_id = f"vk_{uuid.uuid4().hex[:10]}"
        key = await stack.api_key(key_id=key_id, max_requests=6)
        ledgers = [pipeline.stages[1].ledger for pipeline in stack.pipelines()]
        subject = f"vk:{key_id}"
        async with stack.client(key) as client:
            await wait_for(lambda: _answers(client, "shared"), timeout=5, message="the key")
            answered = 1
            for _ in range(10):
                # Each replica hears what the other billed (one event hop) before the next.
                await wait_for(
                    lambda n=answered: all(ledger.used(subject)[0] == n for ledger in ledgers),
                    timeout=5,
                    message=f"both replicas count {answered}",
                )
                if not await _answers(client, "shared"):
                    break
                answered += 1
        assert answered == 6
