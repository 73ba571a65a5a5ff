"""Direct inference: run a registration once, whole or streamed, and report it as an
`inference.completed` / `inference.failed` event (published off the response's path)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from hyperstrate_catalog.application import dto
from hyperstrate_catalog.application.common import Caller
from hyperstrate_catalog.application.ports import InferenceEvents, Upstream
from hyperstrate_catalog.application.registrations import RegistrationService, Target
from hyperstrate_catalog.domain.model import UpstreamFailed, new_id
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_kit.errors import InvalidInputError
from hyperstrate_providers import (
    CompletionStream,
    ProviderError,
    TokenUsage,
    WireDecodeError,
    WireObject,
    cost_of,
    estimate_usage,
)
from hyperstrate_providers.openai_types import ChatCompletionRequest

__all__ = ["InferenceService", "RunOutcome", "usage_view"]

_RESERVED = ("model", "messages", "stream", "stream_options")
_AT_PATH = re.compile(r" - at `\$\.?([A-Za-z_]+)")


def usage_view(usage: TokenUsage) -> dto.UsageView:
    """The API view of token usage."""
    return dto.UsageView(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        estimated=usage.estimated,
    )


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A finished completion with its accounting."""

    result: dto.InferResult
    usage: TokenUsage
    cost: Decimal
    latency_ms: float


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


class InferenceService:
    """Runs registrations: for `/ai/infer`, jobs and conversations."""

    def __init__(
        self, registrations: RegistrationService, upstream: Upstream, events: InferenceEvents
    ) -> None:
        self.registrations = registrations
        self.upstream = upstream
        self.events = events

    # -- requests -----------------------------------------------------------------------

    @staticmethod
    def build_request(
        target: Target,
        messages: list[dict[str, Any]],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        parameters: dict[str, Any] | None = None,
        stream: bool = False,
    ) -> WireObject[ChatCompletionRequest]:
        """The canonical (OpenAI) request for `target`; a 400 naming the field if invalid."""
        raw: dict[str, Any] = {
            key: value for key, value in (parameters or {}).items() if key not in _RESERVED
        }
        raw["model"] = target.config.model
        raw["messages"] = messages
        if max_tokens is not None:
            raw["max_tokens"] = max_tokens
        if temperature is not None:
            raw["temperature"] = temperature
        if stream:
            raw["stream"] = True
            raw["stream_options"] = {"include_usage": True}
        try:
            return WireObject.from_raw(raw, ChatCompletionRequest)
        except WireDecodeError as exc:
            found = _AT_PATH.search(str(exc))
            field = found.group(1) if found else "messages"
            if field not in ("messages", "max_tokens", "temperature"):
                field = "parameters"
            camel = {"max_tokens": "maxTokens"}.get(field, field)
            raise InvalidInputError(f"invalid request: {camel}", {camel: [str(exc)]}) from None

    # -- whole completions --------------------------------------------------------------

    async def infer(self, caller: Caller, data: dto.InferInput) -> dto.InferResult:
        """Run a registration once and return its whole completion."""
        target = await self.registrations.target(caller.org_id, data.registration_id)
        request = self.build_request(
            target,
            data.messages,
            max_tokens=data.max_tokens,
            temperature=data.temperature,
            parameters=data.parameters,
        )
        return (await self.run(caller, target, request)).result

    async def run(
        self,
        caller: Caller,
        target: Target,
        request: WireObject[ChatCompletionRequest],
        *,
        request_id: str | None = None,
    ) -> RunOutcome:
        """Call the upstream, report the inference, and return the outcome.

        Raises `UpstreamFailed` (after reporting `inference.failed`) when the call fails.
        """
        request_id = request_id or new_id("req")
        started = time.perf_counter()
        try:
            completed = await self.upstream.complete(target.config, request)
        except ProviderError as exc:
            self._report_failure(caller, target, request_id, exc, _elapsed_ms(started), False)
            raise UpstreamFailed(
                exc.error_class.value, exc.message, retryable=exc.retryable
            ) from None
        latency_ms = _elapsed_ms(started)
        usage = completed.usage
        cost = cost_of(usage, target.model.price)
        completion = completed.completion
        choice = completion.typed.choices[0] if completion.typed.choices else None
        raw_choices = completion.raw.get("choices") or [{}]
        raw_message = (
            raw_choices[0].get("message") or {} if isinstance(raw_choices[0], dict) else {}
        )
        result = dto.InferResult(
            id=request_id,
            registration_id=target.registration.id,
            model=completion.typed.model or target.config.model,
            content=choice.message.content if choice else None,
            finish_reason=choice.finish_reason if choice else None,
            tool_calls=raw_message.get("tool_calls"),
            usage=usage_view(usage),
            cost_usd=float(cost),
            latency_ms=latency_ms,
            completion=completion.raw,
        )
        self.events.emit(
            self._completed(caller, target, request_id, usage, cost, latency_ms, stream=False)
        )
        return RunOutcome(result=result, usage=usage, cost=cost, latency_ms=latency_ms)

    # -- streams ------------------------------------------------------------------------

    async def infer_stream(self, caller: Caller, data: dto.InferInput) -> AsyncIterator[bytes]:
        """Open a streaming completion (errors before the first byte raise) and return its
        server-sent events: OpenAI chunks, the last one with usage, then `[DONE]`."""
        target = await self.registrations.target(caller.org_id, data.registration_id)
        request = self.build_request(
            target,
            data.messages,
            max_tokens=data.max_tokens,
            temperature=data.temperature,
            parameters=data.parameters,
            stream=True,
        )
        request_id = new_id("req")
        started = time.perf_counter()
        try:
            stream = await self.upstream.open_stream(target.config, request)
        except ProviderError as exc:
            self._report_failure(caller, target, request_id, exc, _elapsed_ms(started), True)
            raise UpstreamFailed(
                exc.error_class.value, exc.message, retryable=exc.retryable
            ) from None
        return self._relay(caller, target, request, request_id, stream, started)

    async def _relay(
        self,
        caller: Caller,
        target: Target,
        request: WireObject[ChatCompletionRequest],
        request_id: str,
        stream: CompletionStream,
        started: float,
    ) -> AsyncIterator[bytes]:
        first_chunk_ms: float | None = None
        failure: ProviderError | None = None
        relayed: list[str] = []  # output so far, to bill a stream the client leaves early
        try:
            async for chunk in stream:
                if first_chunk_ms is None:
                    first_chunk_ms = _elapsed_ms(started)
                relayed.extend(
                    choice.delta.content for choice in chunk.typed.choices if choice.delta.content
                )
                yield b"data: " + chunk.encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        except ProviderError as exc:
            failure = exc
            error = {"error": {"type": exc.error_class.value, "message": exc.message}}
            yield b"data: " + msgspec.json.encode(error) + b"\n\n"
        finally:
            # Reached on success, on failure, and when the client went away mid-stream
            # (then the stream is closed here and what ran is reported as completed).
            await stream.aclose()
            latency_ms = _elapsed_ms(started)
            if failure is not None:
                self._report_failure(caller, target, request_id, failure, latency_ms, True)
            else:
                usage = stream.usage or estimate_usage(request.typed, relayed)
                cost = cost_of(usage, target.model.price)
                self.events.emit(
                    self._completed(
                        caller,
                        target,
                        request_id,
                        usage,
                        cost,
                        latency_ms,
                        stream=True,
                        first_chunk_ms=first_chunk_ms,
                    )
                )

    # -- events -------------------------------------------------------------------------

    @staticmethod
    def _facts(caller: Caller, target: Target, request_id: str) -> dict[str, Any]:
        return {
            "org_id": caller.org_id,
            "aggregate_id": request_id,
            "source": "catalog",
            "request_id": request_id,
            "registration_id": target.registration.id,
            "provider": target.config.kind.value,
            "model": target.config.model,
            "api_key_id": caller.api_key_id,
            "user_id": caller.user_id,
            "team_id": caller.team_id,
        }

    def _completed(
        self,
        caller: Caller,
        target: Target,
        request_id: str,
        usage: TokenUsage,
        cost: Decimal,
        latency_ms: float,
        *,
        stream: bool,
        first_chunk_ms: float | None = None,
    ) -> InferenceCompleted:
        return InferenceCompleted(
            **self._facts(caller, target, request_id),
            stream=stream,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_usd=float(cost),
            latency_ms=latency_ms,
            time_to_first_token_ms=first_chunk_ms,
        )

    def _report_failure(
        self,
        caller: Caller,
        target: Target,
        request_id: str,
        error: ProviderError,
        latency_ms: float,
        stream: bool,
    ) -> None:
        self.events.emit(
            InferenceFailed(
                **self._facts(caller, target, request_id),
                stream=stream,
                latency_ms=latency_ms,
                status_code=error.status_code or 502,
                error_class=error.error_class.value,
                error_message=error.message,
            )
        )
