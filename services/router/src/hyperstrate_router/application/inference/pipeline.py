"""The inference pipeline: an ordered list of stages, each a `Stage` testable alone:

rate limit -> budget (reserve; settle after) -> response cache (answer; store after) ->
linked prompt -> target selection and inference (retry, fallback, structured output).

Field transforms and interceptors plug in as stages between the prompt and the inference.
Streaming passes through the same stages: frames go to the client as they come, the cache
keeps them, and the budget settles on the final usage even when the client leaves midway.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import msgspec

from hyperstrate_contracts import utc_now
from hyperstrate_contracts.inference import (
    InferenceCompleted,
    InferenceFailed,
    InferencePayloadCaptured,
)
from hyperstrate_contracts.router import InferEnd, InferRequest
from hyperstrate_providers import ErrorClass, ProviderClient, ProviderError, WireDecodeError
from hyperstrate_providers.errors import TranslationError
from hyperstrate_router.application.inference.cache import ResponseCache
from hyperstrate_router.application.inference.context import (
    InferenceContext,
    Refusal,
    SendFrame,
    Stage,
)
from hyperstrate_router.application.inference.formats import (
    Api,
    api_error,
    canonical_request,
    stream_error_frame,
)
from hyperstrate_router.application.inference.limits import BudgetLedger, RateLimiter
from hyperstrate_router.application.inference.payloads import (
    DEFAULT_PAYLOAD_MAX_BYTES,
    PayloadCapture,
)
from hyperstrate_router.application.inference.stages import (
    BudgetStage,
    LinkedPromptStage,
    RateLimitStage,
    ResponseCacheStage,
)
from hyperstrate_router.application.inference.state import PromptTable, RouterTable
from hyperstrate_router.application.inference.strategies import LatencyTracker, TargetSelector
from hyperstrate_router.application.inference.target_health import TargetHealth
from hyperstrate_router.application.inference.target_inference import (
    STREAM_INTERRUPTED,
    CatalogPort,
    TargetInference,
)

__all__ = ["CatalogPort", "EventSink", "InferencePipeline", "SendFrame"]

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where inference events go, off the response's critical path."""

    def emit(self, event: InferenceCompleted | InferenceFailed) -> None:
        """Queue an event for publication (never blocks, never loses it)."""
        ...

    def emit_later(self, build: Callable[[], InferencePayloadCaptured]) -> None:
        """Queue an event that `build` makes when it is published, off the answer's path
        (built once; then kept like any other)."""
        ...


async def _nothing_after() -> None:
    """What the last stage's `proceed` does."""


def _refusal_of(error: ProviderError, *, streamed: bool) -> Refusal:
    """The answer to an upstream failure. After the stream's first frame reached the client
    no retry or fallback can follow: the stream was interrupted, whatever the cause."""
    status = {
        ErrorClass.RATE_LIMITED: 429,
        ErrorClass.BAD_REQUEST: 400,
        ErrorClass.TIMEOUT: 504,
    }.get(error.error_class, 502)
    if streamed:
        return Refusal(
            status,
            f"the upstream stream broke off midway ({error.error_class.value}: {error.message})",
            error_class=STREAM_INTERRUPTED,
        )
    return Refusal(status, error.message, error.retry_after, error.error_class.value)


async def _end_started_stream(context: InferenceContext, send: SendFrame, refusal: Refusal) -> None:
    """A stream the client is reading has answered 200 already: it ends with an error frame
    its SDK raises on (OpenAI's `data: {"error": ...}`, Anthropic's `event: error`), and no
    `[DONE]` or `message_stop` after it. Before the first frame, the end's status says it."""
    if context.stream and context.frames:
        frame = stream_error_frame(
            context.request.api, refusal.status, refusal.message, refusal.error_class
        )
        context.frames.append(frame)
        await send(frame)


class InferencePipeline:
    """Runs one inference through the stages and answers with its end frame; emits
    `inference.completed` / `inference.failed`. Holds no per-request state between calls."""

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
        *,
        payload_max_bytes: int = DEFAULT_PAYLOAD_MAX_BYTES,
    ) -> None:
        self.routers, self.events = routers, events
        self.payload_max_bytes = payload_max_bytes
        self.inference = TargetInference(catalog, providers, selector, latency, sleep)
        self.stages: Sequence[Stage] = (
            RateLimitStage(rate_limiter),
            BudgetStage(ledger, catalog, prompts),
            ResponseCacheStage(cache),
            LinkedPromptStage(prompts),
            self.inference,
        )

    @property
    def health(self) -> TargetHealth:
        """`health_check`'s breakers: observability's verdicts go in with `report`."""
        return self.inference.health

    async def handle(self, request: InferRequest, send: SendFrame) -> InferEnd:
        """Answer one request; streamed frames go to `send`, the end is returned."""
        api: Api = request.api
        context: InferenceContext | None = None
        try:
            context = self._context(request)
            await self._run(0, context, send)
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
            return await self._refused(context, send, refusal, api)
        except ProviderError as error:
            assert context is not None
            refusal = _refusal_of(error, streamed=bool(context.frames))
            if context.frames:
                log.warning("inference %s: %s", request.request_id, refusal.message)
            return await self._refused(context, send, refusal, api)

    async def _refused(
        self, context: InferenceContext | None, send: SendFrame, refusal: Refusal, api: Api
    ) -> InferEnd:
        """Log the failure; a stream the client is reading ends with an error frame."""
        if context is not None:
            await _end_started_stream(context, send, refusal)
            self._emit_failed(context, refusal.status, refusal.error_class, refusal.message)
        return InferEnd(
            status=refusal.status,
            body=msgspec.Raw(api_error(api, refusal.status, refusal.message)),
            retry_after=refusal.retry_after,
        )

    async def _run(self, index: int, context: InferenceContext, send: SendFrame) -> None:
        """Stage `index`, with the stages after it as its `proceed`."""
        proceed = (
            functools.partial(self._run, index + 1, context, send)
            if index + 1 < len(self.stages)
            else _nothing_after
        )
        await self.stages[index](context, send, proceed)

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
        event = InferenceCompleted(**self._facts(context), status_code=status)
        self.events.emit(event)
        if context.router.store_payloads:
            self._capture_payload(context, event)

    def _emit_failed(
        self, context: InferenceContext, status: int, error_class: str, message: str
    ) -> None:
        event = InferenceFailed(
            **self._facts(context),
            status_code=status,
            error_class=error_class,
            error_message=message[:500],
        )
        self.events.emit(event)
        if context.router.store_payloads:
            self._capture_payload(context, event, failure=(status, message))

    def _capture_payload(
        self,
        context: InferenceContext,
        event: InferenceCompleted | InferenceFailed,
        failure: tuple[int, str] | None = None,
    ) -> None:
        """`storePayloads`: the bodies by reference; encoding waits for the publisher."""
        self.events.emit_later(
            PayloadCapture(
                org_id=event.org_id,
                request_id=event.request_id,
                router_id=context.router.id,
                occurred_at=event.occurred_at,
                api=context.request.api,
                request=context.chat,
                model=context.registration.model if context.registration else None,
                body=context.body,
                frames=context.frames,
                max_bytes=self.payload_max_bytes,
                failure=failure,
            )
        )
