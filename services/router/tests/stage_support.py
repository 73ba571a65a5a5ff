"""What the unit tests of the pipeline's stages share: a context, a priced catalog port,
and a stand-in for the stages after the one under test."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from hyperstrate_contracts.catalog import Credentials, RegistrationInfo
from hyperstrate_contracts.router import Caller, InferRequest
from hyperstrate_providers import TokenUsage
from hyperstrate_router.application.inference.context import InferenceContext
from hyperstrate_router.application.inference.formats import canonical_request
from hyperstrate_router.application.inference.limits import MemoryBudgetLedger
from hyperstrate_router.application.inference.stages import BudgetStage
from hyperstrate_router.application.inference.state import PromptTable, RouterState, Target
from hyperstrate_router.domain.features import parse_feature_config

__all__ = ["Downstream", "PricedCatalog", "budget_stage", "make_context", "no_frames"]


def make_context(
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


class PricedCatalog:
    """The catalog port with one registration at $1 per million tokens in and $2 out."""

    def __init__(self, max_output_tokens: int = 1000) -> None:
        self.info = RegistrationInfo(
            id="reg", org_id="org", name="reg", catalog_key="m", provider="openai", model="m",
            max_output_tokens=max_output_tokens, input_per_million=1.0, output_per_million=2.0,
        )  # fmt: skip

    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        raise AssertionError("the budget stage needs no credentials")

    async def registration(self, org_id: str, registration_id: str) -> RegistrationInfo:
        if (org_id, registration_id) != ("org", "reg"):
            raise LookupError(registration_id)
        return self.info


def budget_stage(ledger: MemoryBudgetLedger | None = None) -> BudgetStage:
    return BudgetStage(ledger or MemoryBudgetLedger(), PricedCatalog(), PromptTable())


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


async def no_frames(_: bytes) -> None:
    raise AssertionError("this stage sends no frames")
