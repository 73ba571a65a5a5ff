"""The pipeline's last stage: pick the targets (strategy, health, fallback), call the model
(retry with backoff on retryable failures, the next target on failure, also when a stream
breaks before its first byte), check structured output (a streamed answer at its end), stream
frames as they come, and price what ran, also when the client left midway."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

import msgspec

from hyperstrate_contracts.catalog import Credentials, RegistrationInfo
from hyperstrate_providers import (
    CompletionResult,
    CompletionStream,
    ErrorClass,
    ModelPrice,
    ProviderClient,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    TokenUsage,
    WireObject,
    cost_of,
    estimate_usage,
)
from hyperstrate_providers.openai_types import ChatCompletionRequest
from hyperstrate_providers.translate import OpenAIStreamToAnthropic
from hyperstrate_router.application.inference.context import (
    InferenceContext,
    Proceed,
    Refusal,
    SendFrame,
)
from hyperstrate_router.application.inference.formats import (
    OPENAI_DONE,
    anthropic_frame,
    completion_body,
    openai_frame,
)
from hyperstrate_router.application.inference.state import RouterState, Target
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector
from hyperstrate_router.application.inference.structured import (
    repair_messages,
    requested_schema,
    schema_violation,
)
from hyperstrate_router.application.inference.target_health import (
    Outcome,
    TargetHealth,
    outcome_of,
)
from hyperstrate_router.domain.features import (
    FallbackConfig,
    HealthCheckConfig,
    RetryConfig,
    StructuredOutputConfig,
)

__all__ = [
    "STREAM_INTERRUPTED",
    "STRUCTURED_OUTPUT_INVALID",
    "CatalogPort",
    "TargetInference",
    "provider_config",
]

Sleep = Callable[[float], Awaitable[Any]]

#: The error class `inference.failed` records for an answer off the requested schema.
STRUCTURED_OUTPUT_INVALID = "structured_output_invalid"
#: The error class of a stream that broke off (or ended without its terminal event) after
#: the client had read some of it: the stream ends with an error frame, what ran is billed.
STREAM_INTERRUPTED = "stream_interrupted"


class CatalogPort(Protocol):
    """Registrations and their credentials, cached until the catalog says they changed."""

    async def credentials(self, org_id: str, registration_id: str) -> Credentials:
        """Decrypted credentials (raises LookupError when the registration is gone)."""
        ...

    async def registration(self, org_id: str, registration_id: str) -> RegistrationInfo:
        """The registration's catalog facts (prices)."""
        ...


class TargetInference:
    """The terminal stage (it has no `proceed` to call)."""

    def __init__(
        self,
        catalog: CatalogPort,
        providers: ProviderClient,
        selector: TargetSelector,
        latency: LatencyTracker,
        sleep: Sleep,
    ) -> None:
        self.catalog, self.providers = catalog, providers
        self.selector, self.latency, self.sleep = selector, latency, sleep
        self.health = TargetHealth()  # `health_check`: the breakers of the router's targets

    async def __call__(self, context: InferenceContext, send: SendFrame, proceed: Proceed) -> None:
        try:
            await self._infer(context, send)
        finally:
            self._bill_what_ran(context)

    async def _infer(self, context: InferenceContext, send: SendFrame) -> None:
        router = context.router
        health = router.features.get("health_check")
        health = health if isinstance(health, HealthCheckConfig) else None
        targets, gated = self._candidates(router, health)
        if not targets:
            raise Refusal(503, "the router has no available target")
        fallback = router.features.get("fallback")
        if isinstance(fallback, FallbackConfig):
            targets = targets[: 1 + (fallback.max_fallbacks or len(targets))]
        else:
            targets = targets[:1]
        retry = router.features.get("retry")
        retry = retry if isinstance(retry, RetryConfig) else None
        last_error: ProviderError | None = None
        for target in targets:
            if (
                last_error is not None
                and isinstance(fallback, FallbackConfig)
                and (last_error.error_class.value not in fallback.on_errors)
            ):
                break  # not a failure this router falls back on
            if gated and health is not None and not self.health.admit(router.id, target, health):
                continue  # half-open, and another request is its check right now
            last_error = await self._attempts(context, target, send, retry, health, gated)
            if last_error is None:
                return
        if last_error is None:  # every target left was another request's health check
            raise Refusal(503, "the router's targets are being re-checked; retry shortly")
        raise last_error

    async def _attempts(
        self,
        context: InferenceContext,
        target: Target,
        send: SendFrame,
        retry: RetryConfig | None,
        health: HealthCheckConfig | None,
        gated: bool,
    ) -> ProviderError | None:
        """Call one target, retried as configured: None once it answered, else the last
        failure (raised when the client has bytes already: no other target can follow)."""
        router_id = context.router.id
        attempts = retry.max_attempts if retry else 1
        for attempt in range(attempts):
            try:
                await self._call(context, target, send)
            except ProviderError as error:
                if health is not None:
                    self.health.record(router_id, target, health, outcome_of(error.error_class))
                if context.frames:
                    raise
                if (
                    gated
                    and health is not None
                    and not self.health.available(router_id, target, health)
                ):
                    return error  # its breaker just opened: no more calls to it
                if (
                    retry is None
                    or attempt + 1 >= attempts
                    or not error.retryable
                    or error.error_class.value not in retry.retry_on
                ):
                    return error
                await self.sleep(_backoff(retry, attempt + 1, error.retry_after))
            except Refusal:  # the target answered; the answer itself was refused
                if health is not None:
                    self.health.record(router_id, target, health, Outcome.SUCCESS)
                raise
            else:
                if health is not None:
                    self.health.record(router_id, target, health, Outcome.SUCCESS)
                return None
        raise AssertionError("unreachable: the last attempt returns")

    def _candidates(
        self, router: RouterState, health: HealthCheckConfig | None
    ) -> tuple[list[Target], bool]:
        """The targets to try, best first, and whether their breakers gate each call.

        Open targets are skipped while another target remains; when every target is open
        they are all tried anyway (a call that may succeed beats a certain refusal)."""
        ordered = self.selector.order(router)
        if health is None or not health.skip_unhealthy:
            return ordered, False
        available = [t for t in ordered if self.health.available(router.id, t, health)]
        return (available, True) if available else (ordered, False)

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
        config = provider_config(credentials)
        request = _with_model(context.chat, credentials.model)
        started = time.perf_counter()
        closing: list[bytes] = []
        try:
            if context.stream:
                closing = await self._stream(context, config, request, send)
            else:
                result = await self.providers.complete(config, request)
                context.first_token_at = time.perf_counter()
                context.usage = result.usage
                result = await self._structured(context, config, request, result)
                context.body = completion_body(context.request.api, result.completion)
        finally:
            self.latency.record(target.id, time.perf_counter() - started)
        if context.stream:
            await self._end_stream(context, request, closing, send)

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
                502,
                f"the model's answer does not match the requested JSON schema: {violation}",
                error_class=STRUCTURED_OUTPUT_INVALID,
            )
        return result

    async def _end_stream(
        self,
        context: InferenceContext,
        request: WireObject[ChatCompletionRequest],
        closing: list[bytes],
        send: SendFrame,
    ) -> None:
        """The stream's closing frames; with `structured_output`, an answer off the schema
        is refused instead (it reached the client already: no repair; the pipeline ends the
        stream with an error frame)."""
        feature = context.router.features.get("structured_output")
        schema = requested_schema(request.raw) if feature is not None else None
        if isinstance(feature, StructuredOutputConfig) and schema is not None:
            violation = schema_violation("".join(context.output_text), schema)
            if violation is not None:
                message = (
                    f"the streamed answer does not match the requested JSON schema: {violation}"
                )
                raise Refusal(502, message, error_class=STRUCTURED_OUTPUT_INVALID)
        for frame in closing:
            context.frames.append(frame)
            await send(frame)

    async def _stream(
        self,
        context: InferenceContext,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        send: SendFrame,
    ) -> list[bytes]:
        """Relay the stream's frames as they come; returns its closing frames, unsent."""
        anthropic = (
            OpenAIStreamToAnthropic(model=config.model)
            if context.request.api == "anthropic"
            else None
        )
        stream = await self.providers.open_stream(config, request)
        try:
            async with stream:
                closing = await self._relay(context, stream, anthropic, send)
        finally:  # also when it broke or the client left: what ran is billed
            if stream.usage is not None:
                context.usage = stream.usage
        return closing

    async def _relay(
        self,
        context: InferenceContext,
        stream: CompletionStream,
        anthropic: OpenAIStreamToAnthropic | None,
        send: SendFrame,
    ) -> list[bytes]:
        """Send each chunk as it comes, in the client's API; returns the closing frames."""
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
        return [anthropic_frame(e) for e in anthropic.finish()] if anthropic else [OPENAI_DONE]

    def _bill_what_ran(self, context: InferenceContext) -> None:
        """Price what ran, also when it failed or the client left: the provider's usage, a
        broken stream's partial usage, else (no usage at all) an estimate."""
        if context.target is None:
            return
        if not (context.usage.input_tokens or context.usage.output_tokens):
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


def provider_config(credentials: Credentials) -> ProviderConfig:
    """How to call a registration's provider."""
    return ProviderConfig(
        kind=ProviderKind(credentials.provider),
        model=credentials.model,
        api_key=credentials.api_key,
        base_url=credentials.base_url,
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
