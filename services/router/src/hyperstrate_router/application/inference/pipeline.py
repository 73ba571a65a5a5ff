"""The inference pipeline: rate limit -> budget -> cache -> field transforms -> interceptors
-> target selection -> inference (retry, fallback) -> budget settlement -> cache store.

Every stage works on an `InferenceContext`; the pipeline runs them in order. Streaming passes
through the same stages: frames go to the client as they come, the cache keeps them, and the
budget settles on the final usage even when the client leaves midway.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from hyperstrate_contracts import utc_now
from hyperstrate_contracts.catalog import Credentials, RegistrationInfo
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_contracts.router import InferEnd, InferRequest
from hyperstrate_kit.templates import MissingVariablesError, interpolate
from hyperstrate_providers import (
    CompletionResult,
    ErrorClass,
    ModelPrice,
    ProviderClient,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    TokenUsage,
    WireDecodeError,
    WireObject,
    cost_of,
    estimate_usage,
)
from hyperstrate_providers.errors import TranslationError
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_providers.translate import OpenAIStreamToAnthropic
from hyperstrate_router.application.inference.cache import CachedAnswer, ResponseCache, cache_key
from hyperstrate_router.application.inference.formats import (
    OPENAI_DONE,
    Api,
    anthropic_frame,
    api_error,
    canonical_request,
    completion_body,
    openai_frame,
)
from hyperstrate_router.application.inference.limits import (
    BudgetCap,
    BudgetExceeded,
    BudgetLedger,
    RateLimiter,
    Reservation,
)
from hyperstrate_router.application.inference.state import (
    PromptTable,
    RouterState,
    RouterTable,
    Target,
)
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector
from hyperstrate_router.application.inference.structured import (
    repair_messages,
    requested_schema,
    schema_violation,
)
from hyperstrate_router.domain.features import (
    BudgetConfig,
    FallbackConfig,
    HealthCheckConfig,
    RateLimitConfig,
    ResponseCacheConfig,
    RetryConfig,
    StructuredOutputConfig,
)

__all__ = ["CatalogPort", "EventSink", "InferencePipeline", "SendFrame"]

log = logging.getLogger(__name__)
SendFrame = Callable[[bytes], Awaitable[None]]


class CatalogPort(Protocol):
    """Registrations and their credentials, cached until the catalog says they changed."""

    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        """Decrypted credentials (raises LookupError when the registration is gone)."""
        ...

    async def registration(self, org_id: str, registration_id: str) -> RegistrationInfo:
        """The registration's catalog facts (prices)."""
        ...


class EventSink(Protocol):
    """Where inference events go, off the response's critical path."""

    def emit(self, event: InferenceCompleted | InferenceFailed) -> None:
        """Queue an event for publication (never blocks, never loses it)."""
        ...


class Refusal(Exception):
    """The pipeline answers the client now with this status and message."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.retry_after = status, message, retry_after


@dataclass
class InferenceContext:
    """One request on its way through the stages."""

    request: InferRequest
    router: RouterState
    chat: WireObject[ChatCompletionRequest]
    started: float
    stream: bool = False
    include_usage: bool = False
    reservation: Reservation | None = None
    cache_key: str | None = None
    target: Target | None = None
    registration: RegistrationInfo | None = None
    usage: TokenUsage = field(default_factory=lambda: TokenUsage(0, 0))
    cost: float = 0.0
    first_token_at: float | None = None
    cache_hit: bool = False
    frames: list[bytes] = field(default_factory=list)
    body: bytes = b""
    output_text: list[str] = field(default_factory=list)  # streamed so far, to bill a cut stream


class InferencePipeline:
    """Runs one inference through the stages. Holds no per-request state between calls."""

    def __init__(
        self,
        routers: RouterTable,
        prompts: PromptTable,
        catalog: CatalogPort,
        providers: ProviderClient,
        selector: TargetSelector,
        latency: LatencyTracker,
        rate_limiter: RateLimiter,
        ledger: BudgetLedger,
        cache: ResponseCache,
        events: EventSink,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.routers, self.prompts, self.catalog = routers, prompts, catalog
        self.providers, self.selector, self.latency = providers, selector, latency
        self.rate_limiter, self.ledger, self.cache, self.events = (
            rate_limiter,
            ledger,
            cache,
            events,
        )
        self.sleep = sleep
        self.unhealthy: set[str] = set()  # registration ids the health monitor marked down

    async def handle(self, request: InferRequest, send: SendFrame) -> InferEnd:
        """Answer one request; streamed frames go to `send`, the end is returned."""
        api: Api = request.api
        context: InferenceContext | None = None
        try:
            context = self._context(request)
            await self._rate_limit(context)
            await self._reserve_budget(context)
            try:
                if not await self._from_cache(context, send):
                    self._apply_prompt(context)
                    await self._infer(context, send)
                    await self._store_in_cache(context)
            except BaseException:
                if context.reservation is not None and context.target is None:
                    await self.ledger.release(context.reservation)
                    context.reservation = None
                raise
            finally:
                self._bill_what_ran(context)
                if context.reservation is not None:
                    await self.ledger.settle(context.reservation, context.cost)
            self._emit_completed(context)
            return InferEnd(
                status=200,
                body=msgspec.Raw(context.body or b"null"),
                content_type="text/event-stream" if context.stream else "application/json",
                chunks=len(context.frames),
            )
        except asyncio.CancelledError:
            # The client went away: what was generated is billed and logged, then we stop.
            if context is not None and context.target is not None:
                self._emit_completed(context, status=499)
            raise
        except Refusal as refusal:
            if context is not None:
                self._emit_failed(context, refusal.status, "refused", refusal.message)
            return InferEnd(
                status=refusal.status,
                body=msgspec.Raw(api_error(api, refusal.status, refusal.message)),
                retry_after=refusal.retry_after,
            )
        except ProviderError as error:
            assert context is not None
            status = {
                ErrorClass.RATE_LIMITED: 429,
                ErrorClass.BAD_REQUEST: 400,
                ErrorClass.TIMEOUT: 504,
            }.get(error.error_class, 502)
            self._emit_failed(context, status, error.error_class.value, error.message)
            return InferEnd(
                status=status,
                body=msgspec.Raw(api_error(api, status, error.message)),
                retry_after=error.retry_after,
            )

    # -- stages -------------------------------------------------------------------------

    def _context(self, request: InferRequest) -> InferenceContext:
        router = self.routers.get(request.caller.org_id, request.router_id)
        if router is None or not router.enabled:
            raise Refusal(404, f"router {request.router_id!r} not found")
        try:
            chat = canonical_request(request.api, bytes(request.body))
        except (WireDecodeError, TranslationError) as exc:
            raise Refusal(400, f"invalid request: {exc}") from exc
        typed = chat.typed
        options = typed.stream_options
        return InferenceContext(
            request=request,
            router=router,
            chat=chat,
            started=time.perf_counter(),
            stream=bool(typed.stream),
            include_usage=bool(options and options.include_usage) and request.api == "openai",
        )

    async def _rate_limit(self, context: InferenceContext) -> None:
        config = context.router.features.get("rate_limit")
        if not isinstance(config, RateLimitConfig):
            return
        wait = await self.rate_limiter.acquire(
            f"router:{context.router.id}", config.rate_per_second, config.bucket_size
        )
        if wait > 0:
            raise Refusal(429, "router rate limit exceeded", retry_after=wait)

    async def _reserve_budget(self, context: InferenceContext) -> None:
        caller, router = context.request.caller, context.router
        caps: list[BudgetCap] = []
        budget = router.features.get("budget")
        if isinstance(budget, BudgetConfig):
            caps.append(
                BudgetCap(
                    f"router:{router.id}",
                    budget.max_requests,
                    budget.max_cost_usd,
                    budget.reset_period,
                )
            )
        if caller.kind == "virtual_key" and (
            caller.max_requests is not None or caller.max_cost_usd is not None
        ):
            caps.append(
                BudgetCap(
                    f"vk:{caller.key_id}",
                    caller.max_requests,
                    caller.max_cost_usd,
                    caller.reset_period,
                )
            )
        if caller.team_id and (
            caller.team_max_requests is not None or caller.team_max_cost_usd is not None
        ):
            caps.append(
                BudgetCap(
                    f"team:{caller.team_id}", caller.team_max_requests, caller.team_max_cost_usd
                )
            )
        if not caps:
            return
        try:
            context.reservation = await self.ledger.reserve(caps, 0.0)
        except BudgetExceeded as exc:
            raise Refusal(429, f"budget exceeded ({exc.subject.split(':')[0]})") from exc

    async def _from_cache(self, context: InferenceContext, send: SendFrame) -> bool:
        if "response_cache" not in context.router.features:
            return False
        context.cache_key = cache_key(
            f"{context.router.id}@{context.router.version}",
            context.request.api,
            context.stream,
            msgspec.json.decode(bytes(context.request.body)),
        )
        answer = await self.cache.get(context.cache_key)
        if answer is None:
            return False
        context.cache_hit = True
        context.usage = TokenUsage(answer.input_tokens, answer.output_tokens)
        context.first_token_at = time.perf_counter()
        for frame in answer.frames:
            await send(frame)
        context.frames = list(answer.frames)
        context.body = answer.body
        return True

    def _apply_prompt(self, context: InferenceContext) -> None:
        router = context.router
        if not router.prompt_id:
            return
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

    async def _infer(self, context: InferenceContext, send: SendFrame) -> None:
        router = context.router
        targets = [t for t in self.selector.order(router) if not self._skipped(router, t)]
        if not targets:
            raise Refusal(503, "the router has no available target")
        fallback = router.features.get("fallback")
        if isinstance(fallback, FallbackConfig):
            targets = targets[: 1 + (fallback.max_fallbacks or len(targets))]
        else:
            targets = targets[:1]
        retry = router.features.get("retry")
        retry = retry if isinstance(retry, RetryConfig) else None
        attempts = retry.max_attempts if retry else 1
        last_error: ProviderError | None = None
        for target in targets:
            if (
                last_error is not None
                and isinstance(fallback, FallbackConfig)
                and (last_error.error_class.value not in fallback.on_errors)
            ):
                break  # not a failure this router falls back on
            for attempt in range(attempts):
                try:
                    await self._call(context, target, send)
                    return
                except ProviderError as error:
                    last_error = error
                    if context.frames:  # the client has bytes already: no second try
                        raise
                    if (
                        retry is not None
                        and attempt + 1 < attempts
                        and error.retryable
                        and error.error_class.value in retry.retry_on
                    ):
                        await self.sleep(_backoff(retry, attempt + 1, error.retry_after))
                        continue
                    break
        assert last_error is not None
        raise last_error

    def _skipped(self, router: RouterState, target: Target) -> bool:
        health = router.features.get("health_check")
        return (
            isinstance(health, HealthCheckConfig)
            and health.skip_unhealthy
            and target.registration_id in self.unhealthy
        )

    async def _call(self, context: InferenceContext, target: Target, send: SendFrame) -> None:
        org_id = context.router.org_id
        try:
            credentials = await self.catalog.credentials(org_id, target.registration_id)
            context.registration = await self.catalog.registration(org_id, target.registration_id)
        except LookupError as exc:
            raise ProviderError(
                ErrorClass.SERVER_ERROR, "a target's registration is gone", provider="catalog"
            ) from exc
        context.target = target
        config = ProviderConfig(
            kind=ProviderKind(credentials.provider),
            model=credentials.model,
            api_key=credentials.api_key,
            base_url=credentials.base_url,
        )
        request = _with_model(context.chat, credentials.model)
        started = time.perf_counter()
        try:
            if context.stream:
                await self._stream(context, config, request, send)
            else:
                result = await self.providers.complete(config, request)
                context.first_token_at = time.perf_counter()
                context.usage = result.usage
                result = await self._structured(context, config, request, result)
                context.body = completion_body(context.request.api, result.completion)
        finally:
            self.latency.record(target.id, time.perf_counter() - started)
        context.cost = self._cost(context.registration, context.usage)

    async def _structured(
        self,
        context: InferenceContext,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        result: CompletionResult,
    ) -> CompletionResult:
        """With `structured_output`, an answer off the requested schema gets one repair."""
        feature = context.router.features.get("structured_output")
        schema = requested_schema(request.raw)
        if not isinstance(feature, StructuredOutputConfig) or schema is None:
            return result
        answer = _content(result)
        violation = schema_violation(answer, schema)
        repairs = feature.max_repair_attempts if feature.repair else 0
        for _ in range(repairs):
            if violation is None:
                break
            messages = repair_messages(request.raw.get("messages", []), answer, violation)
            result = await self.providers.complete(config, request.replace(messages=messages))
            context.usage = _added(context.usage, result.usage)
            answer = _content(result)
            violation = schema_violation(answer, schema)
        if violation is not None:
            raise Refusal(
                502, f"the model's answer does not match the requested JSON schema: {violation}"
            )
        return result

    async def _stream(
        self,
        context: InferenceContext,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        send: SendFrame,
    ) -> None:
        anthropic = (
            OpenAIStreamToAnthropic(model=config.model)
            if context.request.api == "anthropic"
            else None
        )
        stream = await self.providers.open_stream(config, request)
        async with stream:
            async for chunk in stream:
                if context.first_token_at is None:
                    context.first_token_at = time.perf_counter()
                for choice in chunk.typed.choices:
                    if choice.delta.content:
                        context.output_text.append(choice.delta.content)
                if anthropic is not None:
                    frames = [anthropic_frame(event) for event in anthropic.feed(chunk.typed)]
                elif chunk.typed.choices or context.include_usage:
                    frames = [openai_frame(chunk)]
                else:
                    frames = []  # the usage chunk the client did not ask for
                for frame in frames:
                    context.frames.append(frame)
                    await send(frame)
                if stream.usage is not None:
                    context.usage = stream.usage
            closing = (
                [anthropic_frame(e) for e in anthropic.finish()] if anthropic else [OPENAI_DONE]
            )
            for frame in closing:
                context.frames.append(frame)
                await send(frame)
        if stream.usage is not None:
            context.usage = stream.usage

    async def _store_in_cache(self, context: InferenceContext) -> None:
        config = context.router.features.get("response_cache")
        if (
            not isinstance(config, ResponseCacheConfig)
            or context.cache_key is None
            or (context.cache_hit)
        ):
            return
        answer = CachedAnswer(
            body=context.body,
            frames=tuple(context.frames),
            input_tokens=context.usage.input_tokens,
            output_tokens=context.usage.output_tokens,
        )
        await self.cache.put(context.cache_key, answer, float(config.ttl_seconds))

    def _bill_what_ran(self, context: InferenceContext) -> None:
        """A stream cut before its usage arrived is billed on an estimate of what ran."""
        if context.target is None or context.usage.input_tokens or context.usage.output_tokens:
            return
        context.usage = estimate_usage(context.chat.typed, ["".join(context.output_text)])
        context.cost = self._cost(context.registration, context.usage)

    @staticmethod
    def _cost(registration: RegistrationInfo | None, usage: TokenUsage) -> float:
        if registration is None:
            return 0.0
        price = _price(
            registration.input_per_million,
            registration.output_per_million,
            registration.cached_input_per_million,
        )
        return float(cost_of(usage, price))

    # -- events -------------------------------------------------------------------------

    def _facts(self, context: InferenceContext) -> dict[str, Any]:
        request, caller = context.request, context.request.caller
        registration = context.registration
        now = time.perf_counter()
        return {
            "org_id": caller.org_id,
            "aggregate_id": request.request_id,
            "request_id": request.request_id,
            "trace_id": request.trace_id,
            "router_id": context.router.id,
            "target_id": context.target.id if context.target else None,
            "registration_id": registration.id if registration else None,
            "provider": registration.provider if registration else "",
            "model": registration.model if registration else str(context.chat.typed.model),
            "api_key_id": caller.key_id if caller.kind == "api_key" else None,
            "virtual_key_id": caller.key_id if caller.kind == "virtual_key" else None,
            "user_id": caller.user_id,
            "team_id": caller.team_id,
            "stream": context.stream,
            "input_tokens": context.usage.input_tokens,
            "output_tokens": context.usage.output_tokens,
            "cached_input_tokens": context.usage.cached_input_tokens,
            "reasoning_tokens": context.usage.reasoning_tokens,
            "cost_usd": context.cost,
            "latency_ms": (now - context.started) * 1000,
            "time_to_first_token_ms": (
                (context.first_token_at - context.started) * 1000
                if context.first_token_at
                else None
            ),
            "cache_hit": context.cache_hit,
            "occurred_at": utc_now(),
        }

    def _emit_completed(self, context: InferenceContext, status: int = 200) -> None:
        self.events.emit(InferenceCompleted(**self._facts(context), status_code=status))

    def _emit_failed(
        self, context: InferenceContext, status: int, error_class: str, message: str
    ) -> None:
        self.events.emit(
            InferenceFailed(
                **self._facts(context),
                status_code=status,
                error_class=error_class,
                error_message=message[:500],
            )
        )


@functools.lru_cache(maxsize=4096)
def _price(input_per_million: float, output_per_million: float, cached: float | None) -> ModelPrice:
    """A registration's prices as exact decimals (made once per price, not per request)."""
    return ModelPrice(
        Decimal(str(input_per_million)),
        Decimal(str(output_per_million)),
        None if cached is None else Decimal(str(cached)),
    )


def _content(result: CompletionResult) -> str | None:
    choices = result.completion.typed.choices
    return choices[0].message.content if choices else None


def _added(first: TokenUsage, second: TokenUsage) -> TokenUsage:
    """Usage of two calls billed as one request."""
    return TokenUsage(
        first.input_tokens + second.input_tokens,
        first.output_tokens + second.output_tokens,
        first.cached_input_tokens + second.cached_input_tokens,
    )


def _with_model(
    chat: WireObject[ChatCompletionRequest], model: str
) -> WireObject[ChatCompletionRequest]:
    """The request for the target's model, without converting the whole request again."""
    if chat.typed.model == model:
        return chat
    return WireObject(
        msgspec.structs.replace(chat.typed, model=model), {**chat.raw, "model": model}
    )


def _backoff(retry: RetryConfig, retry_number: int, retry_after: float | None) -> float:
    """The configured backoff, or the upstream's Retry-After when longer (within the cap)."""
    ceiling = retry.max_backoff_ms / 1000
    return max(retry.backoff_ms(retry_number) / 1000, min(retry_after or 0.0, ceiling))
