"""Cost caps hold under concurrency: the budget reserves the most a request can cost, and the
ledger learns spend it did not settle itself (observability at start-up, other replicas)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from stage_support import Downstream, PricedCatalog, make_context, no_frames

from hyperstrate_contracts.budgets import SubjectSpend, period_key
from hyperstrate_contracts.catalog import RegistrationInfo
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_contracts.router import Caller
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_router.application.inference.context import Refusal
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger
from hyperstrate_router.application.inference.spend_bound import (
    DEFAULT_OUTPUT_TOKEN_BOUND,
    output_token_bound,
    spend_bound,
)
from hyperstrate_router.application.inference.stages import BudgetStage
from hyperstrate_router.application.inference.state import Prompt, PromptTable


def _registration(**prices: float | int) -> RegistrationInfo:
    return RegistrationInfo(
        id="r", org_id="o", name="r", catalog_key="m", provider="openai", model="m", **prices
    )  # type: ignore[arg-type]


def _request(content: str = "hello", **fields: object) -> ChatCompletionRequest:
    body = {"model": "x", "messages": [{"role": "user", "content": content}], **fields}
    return msgspec.convert(body, ChatCompletionRequest)


def test_the_output_cap_is_the_requests_max_tokens_within_the_models_maximum() -> None:
    model = _registration(max_output_tokens=4096, context_window=128_000)
    assert output_token_bound(_request(max_tokens=100), model) == 100
    assert output_token_bound(_request(max_completion_tokens=50, max_tokens=900), model) == 50
    assert output_token_bound(_request(max_tokens=10**6), model) == 4096
    assert output_token_bound(_request(), model) == 4096
    assert output_token_bound(_request(), _registration(context_window=2000)) == 2000
    assert output_token_bound(_request(), _registration()) == DEFAULT_OUTPUT_TOKEN_BOUND


def test_the_bound_takes_the_dearest_target_and_counts_every_call() -> None:
    cheap = _registration(input_per_million=1.0, output_per_million=1.0, max_output_tokens=1000)
    dear = _registration(input_per_million=3.0, output_per_million=9.0, max_output_tokens=1000)
    request = _request("x" * 300, max_tokens=1000)
    one = spend_bound(request, [cheap, dear])
    # at least 100 prompt tokens at $3/M and exactly 1000 output tokens at $9/M
    assert one >= (100 * 3 + 1000 * 9) / 1e6
    assert one == pytest.approx(spend_bound(request, [dear]))
    assert spend_bound(request, [cheap, dear], calls=2) == pytest.approx(2 * one)
    assert spend_bound(request, []) == 0.0


def test_the_prompt_bound_is_never_below_the_billed_estimate() -> None:
    from hyperstrate_providers.usage import estimate_request_tokens, request_token_bound

    for text in ["plain English words " * 20, "数据" * 200, "{'a': [1, 2, 3]}" * 30, "🙂" * 50]:
        request = _request(text)
        assert request_token_bound(request) >= estimate_request_tokens(request)


def test_a_linked_prompt_is_part_of_the_bound() -> None:
    model = _registration(input_per_million=1.0, max_output_tokens=1)
    request = _request("hi", max_tokens=1)
    assert spend_bound(request, [model], added_text="y" * 3000) > spend_bound(request, [model])


async def test_64_concurrent_callers_never_spend_past_a_cost_cap() -> None:
    # Each request reserves at most (2 prompt tokens ... ) + 100 output tokens at $2/M, and
    # really costs $0.0001; the cap fits about ten of them.
    ledger = MemoryBudgetLedger()
    stage = BudgetStage(ledger, PricedCatalog(max_output_tokens=100), PromptTable())
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk-cc", max_cost_usd=0.001)
    release = asyncio.Event()
    decided: list[bool] = []  # one entry per caller admitted (in flight) or refused

    async def one() -> bool:
        context = make_context(caller=capped)

        async def in_flight() -> None:
            decided.append(True)
            await release.wait()  # every caller is in flight before any settles
            await Downstream(context)()
            context.cost = 0.0001

        try:
            await stage(context, no_frames, in_flight)
            return True
        except Refusal as refusal:
            decided.append(False)
            assert refusal.status == 429 and "may cost up to" in refusal.message
            return False

    tasks = [asyncio.create_task(one()) for _ in range(64)]
    async with asyncio.timeout(5):
        while len(decided) < 64:
            await asyncio.sleep(0)
    release.set()
    admitted = sum(await asyncio.gather(*tasks))
    requests, spent = ledger.used("vk:vk-cc")
    assert 1 <= admitted < 64
    assert spent == pytest.approx(admitted * 0.0001) and spent <= 0.001
    assert requests == admitted


def _event(kind: type[InferenceCompleted | InferenceFailed], **facts: object) -> object:
    base = {
        "org_id": "org",
        "aggregate_id": "req-x",
        "request_id": "req-x",
        "virtual_key_id": "vk-1",
        "team_id": "team-1",
        "cost_usd": 0.25,
        "occurred_at": datetime.now(UTC),
    }
    return kind(**{**base, **facts})  # type: ignore[arg-type]


def test_the_ledger_counts_restored_spend_and_other_replicas_events_in_every_period() -> None:
    ledger = MemoryBudgetLedger()
    now = datetime.now(UTC)
    month, day = period_key("monthly", now), period_key("daily", now)
    ledger.restore(
        SubjectSpend(
            subject="vk:vk-1",
            requests={month: 3, day: 1, "all": 7},
            cost_usd={month: 1.5, day: 0.5, "all": 4.0},
        )
    )
    assert ledger.used("vk:vk-1", "monthly") == (3, 1.5)
    ledger.observe(_event(InferenceCompleted))  # type: ignore[arg-type]
    assert ledger.used("vk:vk-1", "monthly") == (4, 1.75)
    assert ledger.used("vk:vk-1", "daily") == (2, 0.75)
    assert ledger.used("vk:vk-1") == (8, 4.25)
    assert ledger.used("team:team-1") == (1, 0.25)
    # A refusal never counts; a failure after the model ran does.
    ledger.observe(_event(InferenceFailed, request_id="req-r"))  # type: ignore[arg-type]
    assert ledger.used("vk:vk-1") == (8, 4.25)
    ledger.observe(_event(InferenceFailed, request_id="req-f", target_id="t", cost_usd=0.0))  # type: ignore[arg-type]
    assert ledger.used("vk:vk-1") == (9, 4.25)


async def test_the_ledger_skips_the_events_of_requests_it_settled_itself() -> None:
    ledger = MemoryBudgetLedger()
    stage = BudgetStage(ledger, PricedCatalog(), PromptTable())
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk-1", max_requests=5)
    context = make_context(caller=capped)
    await stage(context, no_frames, Downstream(context))
    assert ledger.used("vk:vk-1") == (1, 0.25)
    ledger.observe(_event(InferenceCompleted, request_id=context.request.request_id))  # type: ignore[arg-type]
    assert ledger.used("vk:vk-1") == (1, 0.25)
    ledger.observe(_event(InferenceCompleted, request_id="from-another-replica"))  # type: ignore[arg-type]
    assert ledger.used("vk:vk-1") == (2, 0.5)


def test_ended_periods_are_forgotten() -> None:
    ledger = MemoryBudgetLedger()
    yesterday = datetime.now(UTC) - timedelta(days=1)
    ledger.observe(_event(InferenceCompleted, occurred_at=yesterday))  # type: ignore[arg-type]
    assert ledger.used("vk:vk-1") == (1, 0.25)
    ledger.forget_past_periods()
    assert ledger.used("vk:vk-1") == (1, 0.25)  # "ever" never ends
    assert len(ledger._usage) <= 2 * 4  # yesterday's day key is gone (week/month may stay)
    assert f"vk:vk-1:{period_key('daily', yesterday)}" not in ledger._usage


async def test_a_linked_prompt_makes_the_reservation_bigger() -> None:
    prompts = PromptTable()
    prompts.by_id["p1"] = Prompt("org", "z" * 30_000, ())
    capped = Caller(org_id="org", kind="virtual_key", key_id="vk-p", max_cost_usd=0.005)
    catalog = PricedCatalog(max_output_tokens=1)
    context = make_context(caller=capped)
    await BudgetStage(MemoryBudgetLedger(), catalog, prompts)(
        context, no_frames, Downstream(context)
    )
    linked = make_context(caller=capped, prompt_id="p1")  # 30k bytes: 10k tokens, $0.01
    with pytest.raises(Refusal):
        await BudgetStage(MemoryBudgetLedger(), catalog, prompts)(
            linked, no_frames, Downstream(linked)
        )
