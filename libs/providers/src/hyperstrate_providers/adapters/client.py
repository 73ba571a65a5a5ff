"""Run upstream calls: send through the pool, classify failures, return canonical results.

``ProviderClient.complete`` returns a whole completion; ``ProviderClient.open_stream`` returns
once the upstream has answered with a success status (so a 429 or a refused connection raises
*before* any chunk, while a router can still fall back), then yields canonical chunks.
Every stream ends with a usage chunk (no choices): the provider's, or an estimate when the
provider sent none (see :mod:`hyperstrate_providers.usage`). A stream cut before its terminal
event raises :class:`ProviderError` of class ``connection``; a stream that failed or was closed
early still has a ``usage``: what ran until then.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType

import aiohttp
import msgspec

from hyperstrate_providers.adapters.base import ChunkDecoder, ProviderAdapter, UpstreamCall
from hyperstrate_providers.adapters.config import ProviderConfig
from hyperstrate_providers.adapters.pool import ClientPool
from hyperstrate_providers.adapters.registry import adapter_for
from hyperstrate_providers.errors import (
    MAX_RETRY_AFTER_SECONDS,
    ErrorClass,
    IncompleteStreamError,
    ProviderError,
    TranslationError,
    UpstreamStreamError,
    classify_status,
    error_message_from_body,
    parse_retry_after,
)
from hyperstrate_providers.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from hyperstrate_providers.sse import SseParser
from hyperstrate_providers.usage import TokenUsage, estimate_usage, usage_to_openai
from hyperstrate_providers.wire import WireDecodeError, WireObject

__all__ = [
    "CompletionResult",
    "CompletionStream",
    "ProviderClient",
    "UpstreamResponse",
    "stream_error_class",
]

_STREAM_ERROR_CLASSES = {
    "rate_limit_error": ErrorClass.RATE_LIMITED,
    "RESOURCE_EXHAUSTED": ErrorClass.RATE_LIMITED,
    "authentication_error": ErrorClass.AUTH,
    "permission_error": ErrorClass.AUTH,
    "UNAUTHENTICATED": ErrorClass.AUTH,
    "PERMISSION_DENIED": ErrorClass.AUTH,
    "invalid_request_error": ErrorClass.BAD_REQUEST,
    "not_found_error": ErrorClass.BAD_REQUEST,
    "request_too_large": ErrorClass.BAD_REQUEST,
    "INVALID_ARGUMENT": ErrorClass.BAD_REQUEST,
    "NOT_FOUND": ErrorClass.BAD_REQUEST,
    "timeout_error": ErrorClass.TIMEOUT,
    "DEADLINE_EXCEEDED": ErrorClass.TIMEOUT,
}


def stream_error_class(error_type: str) -> ErrorClass:
    """The class of an error reported inside a stream (``overloaded_error`` and unknown types
    are server errors)."""
    return _STREAM_ERROR_CLASSES.get(error_type, ErrorClass.SERVER_ERROR)


@dataclass(frozen=True, slots=True)
class CompletionResult:
    """A canonical completion and its usage (``usage.estimated`` when counted locally)."""

    completion: WireObject[ChatCompletion]
    usage: TokenUsage


class ProviderClient:
    """Calls any configured provider through a shared :class:`ClientPool`."""

    def __init__(
        self, pool: ClientPool, *, max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS
    ) -> None:
        """Use ``pool`` for every call (the caller owns and closes it); an upstream's
        Retry-After is kept up to ``max_retry_after_seconds``."""
        self._pool = pool
        self._max_retry_after = max_retry_after_seconds

    async def complete(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> CompletionResult:
        """One non-streaming completion; raises :class:`ProviderError` on any failure."""
        adapter = adapter_for(config.kind)
        call = _build_call(adapter, config, request, stream=False)
        response = await self._send(config, call)
        body = response.content
        failure: ProviderError | None = None
        try:
            parsed = adapter.parse_completion(config, body)
        except WireDecodeError as exc:
            failure = _invalid_body_error(config, exc)
        if failure is not None:
            raise failure
        usage = parsed.usage or estimate_usage(
            request.typed, _completion_texts(parsed.completion.typed)
        )
        return CompletionResult(parsed.completion, usage)

    async def open_stream(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> CompletionStream:
        """Start a streaming completion; raises :class:`ProviderError` if the upstream refuses.

        Iterate the result (``async with`` closes it early): each item is a canonical chunk.
        """
        adapter = adapter_for(config.kind)
        call = _build_call(adapter, config, request, stream=True)
        response = await self._send(config, call, stream=True)
        return CompletionStream(response, adapter.chunk_decoder(config, request), config, request)

    async def list_models(self, config: ProviderConfig) -> list[str]:
        """The model ids the provider lists."""
        adapter = adapter_for(config.kind)
        response = await self._send(config, adapter.build_models_call(config))
        failure: ProviderError | None = None
        try:
            return adapter.parse_models(response.content)
        except WireDecodeError as exc:
            failure = _invalid_body_error(config, exc)
        raise failure

    async def _send(
        self, config: ProviderConfig, call: UpstreamCall, *, stream: bool = False
    ) -> UpstreamResponse:
        """Send the call. A whole answer is read before returning; a streamed one stays open
        until it is closed. A refusal (status >= 300) raises :class:`ProviderError`."""
        session = self._pool.client_for(call.url)
        timeout = self._pool.timeout
        if config.read_timeout is not None:
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=timeout.connect,
                sock_connect=timeout.sock_connect,
                sock_read=config.read_timeout,
            )
        failure: ProviderError | None = None
        try:
            raw = await session.request(
                call.method,
                call.url,
                headers=call.headers,
                data=call.body,
                timeout=timeout,
                allow_redirects=False,
            )
            response = UpstreamResponse(raw)
            if not stream or response.status_code >= 300:
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = _transport_error(config, exc)
        if failure is not None:
            raise failure
        if response.status_code >= 300:
            raise _status_error(config, response, self._max_retry_after)
        return response


class UpstreamResponse:
    """What the adapters need of an HTTP response, over aiohttp's."""

    __slots__ = ("_raw", "content")

    def __init__(self, raw: aiohttp.ClientResponse) -> None:
        self._raw = raw
        self.content = b""

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        status: int = self._raw.status
        return status

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers (case-insensitive)."""
        headers: Mapping[str, str] = self._raw.headers
        return headers

    @property
    def reason_phrase(self) -> str:
        """The status line's reason."""
        return self._raw.reason or ""

    async def read(self) -> bytes:
        """Read the whole body and give the connection back."""
        try:
            self.content = await self._raw.read()
        finally:
            self._raw.release()
        return self.content

    def iter_chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        chunks: AsyncIterator[bytes] = self._raw.content.iter_any()
        return chunks

    def close(self) -> None:
        """Stop reading (a connection cut mid-body is not reused)."""
        self._raw.close()


class CompletionStream:
    """The canonical chunks of one streaming completion: an async iterator that must be
    consumed or closed (``aclose``, or ``async with``)."""

    def __init__(
        self,
        response: UpstreamResponse,
        decoder: ChunkDecoder,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
    ) -> None:
        """Wrap an open streaming response (built by :meth:`ProviderClient.open_stream`)."""
        self._response = response
        self._decoder = decoder
        self._config = config
        self._request = request
        self._usage: TokenUsage | None = None
        self._output_texts: list[str] = []
        self._last_chunk: ChatCompletionChunk | None = None
        self._chunks = self._generate()

    @property
    def usage(self) -> TokenUsage | None:
        """The usage of the completion, once the stream has ended; after a failure or an
        early close, what ran until then (see :meth:`_partial_usage`)."""
        return self._usage

    @property
    def status_code(self) -> int:
        """The upstream's HTTP status."""
        return self._response.status_code

    def __aiter__(self) -> CompletionStream:
        return self

    async def __anext__(self) -> WireObject[ChatCompletionChunk]:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        try:
            await self._chunks.aclose()
        finally:
            self._response.close()
            if self._usage is None:  # closed before its end: what ran is billed
                self._usage = self._partial_usage()

    async def __aenter__(self) -> CompletionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _generate(self) -> AsyncGenerator[WireObject[ChatCompletionChunk], None]:
        parser = SseParser()
        failure: ProviderError | None = None
        try:
            async for data in self._response.iter_chunks():
                for event in parser.feed(data):
                    for chunk in self._decoder.feed(event):
                        self._observe(chunk)
                        yield chunk
            for event in parser.close():
                for chunk in self._decoder.feed(event):
                    self._observe(chunk)
                    yield chunk
            for chunk in self._decoder.finish():
                self._observe(chunk)
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure = _transport_error(self._config, exc)
        except IncompleteStreamError as exc:
            failure = self._error(ErrorClass.CONNECTION, f"stream broken: {exc}")
        except UpstreamStreamError as exc:
            failure = self._error(stream_error_class(exc.error_type), str(exc))
        except WireDecodeError as exc:
            failure = _invalid_body_error(self._config, exc)
        finally:
            self._response.close()
        if failure is not None:
            self._usage = self._partial_usage()
            raise failure
        self._usage = self._decoder.usage
        if self._usage is None:
            self._usage = estimate_usage(self._request.typed, self._output_texts)
            yield WireObject(self._usage_chunk(self._usage))

    def _observe(self, chunk: WireObject[ChatCompletionChunk]) -> None:
        typed = chunk.typed
        self._last_chunk = typed
        for choice in typed.choices:
            delta = choice.delta
            if delta.content:
                self._output_texts.append(delta.content)
            if delta.reasoning_content:
                self._output_texts.append(delta.reasoning_content)
            for call in delta.tool_calls or ():
                if call.function is not None:
                    self._output_texts.append(call.function.name or "")
                    self._output_texts.append(call.function.arguments or "")

    def _partial_usage(self) -> TokenUsage:
        """The usage of a stream that stopped before its end: the provider's counts so far
        (Anthropic reports the prompt first), the output counted from what was streamed when
        that is more (the provider's output count comes last, if at all)."""
        estimate = estimate_usage(self._request.typed, self._output_texts)
        reported = self._decoder.usage
        if reported is None:
            return estimate
        counted_here = not reported.input_tokens or estimate.output_tokens > reported.output_tokens
        return msgspec.structs.replace(
            reported,
            input_tokens=reported.input_tokens or estimate.input_tokens,
            output_tokens=max(reported.output_tokens, estimate.output_tokens),
            estimated=reported.estimated or counted_here,
        )

    def _usage_chunk(self, usage: TokenUsage) -> ChatCompletionChunk:
        last = self._last_chunk
        return ChatCompletionChunk(
            id=last.id if last else "",
            created=last.created if last else 0,
            model=last.model if last else self._config.model,
            choices=[],
            usage=usage_to_openai(usage),
        )

    def _error(self, error_class: ErrorClass, message: str) -> ProviderError:
        return ProviderError(
            error_class,
            message,
            provider=self._config.kind.value,
            status_code=self._response.status_code,
            secrets=self._config.secrets,
        )


def _build_call(
    adapter: ProviderAdapter,
    config: ProviderConfig,
    request: WireObject[ChatCompletionRequest],
    *,
    stream: bool,
) -> UpstreamCall:
    failure: ProviderError | None = None
    try:
        return adapter.build_call(config, request, stream=stream)
    except TranslationError as exc:
        failure = ProviderError(
            ErrorClass.BAD_REQUEST,
            f"cannot translate the request: {exc}",
            provider=config.kind.value,
            secrets=config.secrets,
        )
    raise failure


def _completion_texts(completion: ChatCompletion) -> list[str]:
    texts: list[str] = []
    for choice in completion.choices:
        message = choice.message
        texts.extend(text for text in (message.content, message.reasoning_content) if text)
        for call in message.tool_calls or ():
            texts.extend((call.function.name, call.function.arguments))
    return texts


def _status_error(
    config: ProviderConfig, response: UpstreamResponse, max_retry_after: float
) -> ProviderError:
    status = response.status_code
    message = (
        error_message_from_body(response.content) or response.reason_phrase or f"HTTP {status}"
    )
    return ProviderError(
        classify_status(status),
        message,
        provider=config.kind.value,
        status_code=status,
        retry_after=parse_retry_after(response.headers, max_retry_after),
        secrets=config.secrets,
    )


def _transport_error(config: ProviderConfig, exc: BaseException) -> ProviderError:
    error_class = ErrorClass.TIMEOUT if isinstance(exc, TimeoutError) else ErrorClass.CONNECTION
    detail = str(exc) or "no detail"
    return ProviderError(
        error_class,
        f"{type(exc).__name__}: {detail}",
        provider=config.kind.value,
        secrets=config.secrets,
    )


def _invalid_body_error(config: ProviderConfig, exc: WireDecodeError) -> ProviderError:
    return ProviderError(
        ErrorClass.SERVER_ERROR,
        f"the upstream answered with an invalid body: {exc}",
        provider=config.kind.value,
        secrets=config.secrets,
    )
