"""The pipeline's stages before the model is called: router rate limit, budgets, response
cache and the linked prompt. Each is a `Stage`; a router without the feature passes through."""

from __future__ import annotations

import contextlib
import time

import msgspec

from hyperstrate_kit.templates import MissingVariablesError, interpolate
from hyperstrate_providers import TokenUsage
from hyperstrate_router.application.inference.cache import CachedAnswer, ResponseCache, cache_key
from hyperstrate_router.application.inference.context import (
    InferenceContext,
    Proceed,
    Refusal,
    SendFrame,
)
from hyperstrate_router.application.inference.limits import (
    BudgetCap,
    BudgetExceeded,
    BudgetLedger,
    RateLimiter,
)
from hyperstrate_router.application.inference.spend_bound import spend_bound
from hyperstrate_router.application.inference.state import PromptTable
from hyperstrate_router.application.inference.target_inference import CatalogPort
from hyperstrate_router.domain.features import (
    BudgetConfig,
    RateLimitConfig,
    ResponseCacheConfig,
    StructuredOutputConfig,
)

__all__ = ["BudgetStage", "LinkedPromptStage", "RateLimitStage", "ResponseCacheStage"]


class RateLimitStage:
    """`rate_limit`: a token bucket per router (shared across replicas with Redis)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def __call__(self, context: InferenceContext, send: SendFrame, proceed: Proceed) -> None:
        config = context.router.features.get("rate_limit")
        if isinstance(config, RateLimitConfig):
            wait = await self.limiter.acquire(
                f"router:{context.router.id}", config.rate_per_second, config.bucket_size
            )
            if wait > 0:
                raise Refusal(429, "router rate limit exceeded", retry_after=wait)
        await proceed()


class BudgetStage:
    """Router, virtual key and team caps: a reservation of the most the request can cost
    before the call (`spend_bound`), settled on the real cost after it (a cut stream
    included); released when no model was called."""

    def __init__(self, ledger: BudgetLedger, catalog: CatalogPort, prompts: PromptTable) -> None:
        self.ledger, self.catalog, self.prompts = ledger, catalog, prompts

    async def __call__(self, context: InferenceContext, send: SendFrame, proceed: Proceed) -> None:
        caps = budget_caps(context)
        if not caps:
            await proceed()
            return
        bound = await self._bound(context)
        try:
            reservation = await self.ledger.reserve(caps, bound, context.request.request_id)
        except BudgetExceeded as exc:
            raise Refusal(
                429,
                f"budget exceeded ({exc.subject.split(':')[0]}): this request may cost up to "
                f"${bound:.6f}; a lower max_tokens reserves less",
            ) from exc
        try:
            await proceed()
        except BaseException:
            if context.target is None:  # refused before any model ran: nothing to bill
                await self.ledger.release(reservation)
            else:
                await self.ledger.settle(reservation, context.cost)
            raise
        await self.ledger.settle(reservation, context.cost)

    async def _bound(self, context: InferenceContext) -> float:
        router = context.router
        registrations = []
        for target in router.live_targets():
            with contextlib.suppress(LookupError):  # a gone registration is never called
                registrations.append(
                    await self.catalog.registration(router.org_id, target.registration_id)
                )
        structured = router.features.get("structured_output")
        calls = 1
        if isinstance(structured, StructuredOutputConfig) and structured.repair:
            calls += structured.max_repair_attempts
        prompt = self.prompts.get(router.org_id, router.prompt_id) if router.prompt_id else None
        added = ""
        if prompt is not None:  # the linked prompt goes first, its variables filled in
            raw = context.chat.raw
            variables = [raw.get("metadata"), raw.get("variables")]
            added = prompt.text + msgspec.json.encode(variables).decode()
        return spend_bound(context.chat.typed, registrations, calls, added)


def budget_caps(context: InferenceContext) -> list[BudgetCap]:
    """The caps this request counts against: its router's, its virtual key's, its team's."""
    caller, router = context.request.caller, context.router
    caps: list[BudgetCap] = []
    budget = router.features.get("budget")
    if isinstance(budget, BudgetConfig):
        caps.append(
            BudgetCap(
                f"router:{router.id}", budget.max_requests, budget.max_cost_usd, budget.reset_period
            )
        )
    if caller.kind == "virtual_key" and (
        caller.max_requests is not None or caller.max_cost_usd is not None
    ):
        caps.append(
            BudgetCap(
                f"vk:{caller.key_id}", caller.max_requests, caller.max_cost_usd, caller.reset_period
            )
        )
    if caller.team_id and (
        caller.team_max_requests is not None or caller.team_max_cost_usd is not None
    ):
        caps.append(
            BudgetCap(f"team:{caller.team_id}", caller.team_max_requests, caller.team_max_cost_usd)
        )
    return caps


class ResponseCacheStage:
    """`response_cache`: an exact match on the normalised request answers from the cache (a
    stream is replayed as a stream); a fresh answer is stored for `ttlSeconds`."""

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache

    async def __call__(self, context: InferenceContext, send: SendFrame, proceed: Proceed) -> None:
        config = context.router.features.get("response_cache")
        if not isinstance(config, ResponseCacheConfig):
            await proceed()
            return
        key = cache_key(
            f"{context.router.id}@{context.router.version}",
            context.request.api,
            context.stream,
            msgspec.json.decode(bytes(context.request.body)),
        )
        answer = await self.cache.get(key)
        if answer is not None:
            await self._replay(context, answer, send)
            return
        await proceed()
        stored = CachedAnswer(
            body=context.body,
            frames=tuple(context.frames),
            input_tokens=context.usage.input_tokens,
            output_tokens=context.usage.output_tokens,
        )
        await self.cache.put(
            key,
            stored,
            float(config.ttl_seconds),
            scope=context.router.id,
            max_entries=config.max_entries,
        )

    @staticmethod
    async def _replay(context: InferenceContext, answer: CachedAnswer, send: SendFrame) -> None:
        context.cache_hit = True
        context.usage = TokenUsage(answer.input_tokens, answer.output_tokens)
        context.first_token_at = time.perf_counter()
        for frame in answer.frames:
            await send(frame)
        context.frames = list(answer.frames)
        context.body = answer.body


class LinkedPromptStage:
    """The router's `promptId`: its text, `{{variables}}` filled from the request's
    `variables` (or `metadata`), goes first as the system message."""

    def __init__(self, prompts: PromptTable) -> None:
        self.prompts = prompts

    async def __call__(self, context: InferenceContext, send: SendFrame, proceed: Proceed) -> None:
        router = context.router
        if router.prompt_id:
            prompt = self.prompts.get(router.org_id, router.prompt_id)
            if prompt is None:
                raise Refusal(400, "the router's linked prompt no longer exists")
            raw = context.chat.raw
            variables = {**(raw.get("metadata") or {}), **(raw.get("variables") or {})}
            try:
                text = interpolate(prompt.text, variables)
            except MissingVariablesError as exc:
                raise Refusal(400, f"{exc}; pass them in `variables` (or `metadata`)") from exc
            messages = [{"role": "system", "content": text}, *raw.get("messages", [])]
            context.chat = context.chat.replace(messages=messages, variables=None)
        await proceed()
