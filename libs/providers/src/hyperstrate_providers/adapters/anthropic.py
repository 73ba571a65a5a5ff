"""Anthropic's native Messages API, reached through translation from the canonical request.

``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version`` headers; betas
go in ``extra_headers`` (``anthropic-beta``).
"""

from __future__ import annotations

import msgspec

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers.adapters.base import ParsedCompletion, UpstreamCall
from hyperstrate_providers.adapters.config import ProviderConfig
from hyperstrate_providers.adapters.openai import parse_model_list
from hyperstrate_providers.openai_types import (
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from hyperstrate_providers.sse import SseEvent
from hyperstrate_providers.translate import (
    AnthropicStreamToOpenAI,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
)
from hyperstrate_providers.usage import TokenUsage, usage_from_anthropic
from hyperstrate_providers.wire import WireDecodeError, WireObject

__all__ = ["DEFAULT_ANTHROPIC_VERSION", "AnthropicAdapter", "AnthropicChunkDecoder"]

DEFAULT_ANTHROPIC_VERSION = "2023-06-01"

_encoder = msgspec.json.Encoder()
_response_decoder = msgspec.json.Decoder(anthropic.MessagesResponse)


class AnthropicAdapter:
    """Translate to a Messages request, and Messages responses and events back."""

    def build_call(
        self,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        *,
        stream: bool,
    ) -> UpstreamCall:
        """The Messages call for ``request`` (raises ``TranslationError`` for features
        Anthropic cannot express)."""
        translated = openai_request_to_anthropic(
            request, model=config.model, default_max_tokens=config.default_max_tokens
        )
        translated = msgspec.structs.replace(translated, stream=True if stream else None)
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "anthropic-version": config.api_version or DEFAULT_ANTHROPIC_VERSION,
            **config.extra_headers,
            "x-api-key": config.api_key,
        }
        return UpstreamCall(
            method="POST",
            url=f"{config.resolved_base_url}/v1/messages",
            headers=headers,
            body=_encoder.encode(translated),
        )

    def parse_completion(self, config: ProviderConfig, body: bytes) -> ParsedCompletion:
        """A Messages response as a canonical completion."""
        try:
            response = _response_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise WireDecodeError(str(exc)) from None
        completion = WireObject(anthropic_response_to_openai(response))
        return ParsedCompletion(completion, usage_from_anthropic(response.usage))

    def chunk_decoder(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> AnthropicChunkDecoder:
        """A decoder that runs an :class:`AnthropicStreamToOpenAI` translator."""
        return AnthropicChunkDecoder()

    def build_models_call(self, config: ProviderConfig) -> UpstreamCall:
        """``GET {base_url}/v1/models``."""
        return UpstreamCall(
            method="GET",
            url=f"{config.resolved_base_url}/v1/models",
            headers={
                "accept": "application/json",
                "anthropic-version": config.api_version or DEFAULT_ANTHROPIC_VERSION,
                **config.extra_headers,
                "x-api-key": config.api_key,
            },
            body=b"",
        )

    def parse_models(self, body: bytes) -> list[str]:
        """The ids of the model list."""
        return parse_model_list(body)


class AnthropicChunkDecoder:
    """Anthropic SSE events through :class:`AnthropicStreamToOpenAI`."""

    def __init__(self) -> None:
        """Start a fresh translator."""
        self._translator = AnthropicStreamToOpenAI()

    @property
    def usage(self) -> TokenUsage | None:
        """The usage reported so far."""
        return self._translator.usage

    def feed(self, event: SseEvent) -> list[WireObject[ChatCompletionChunk]]:
        """Translate one event."""
        if not event.data.strip():
            return []
        try:
            decoded = anthropic.decode_stream_event(event.data)
        except msgspec.DecodeError as exc:
            raise WireDecodeError(str(exc)) from None
        return [WireObject(chunk) for chunk in self._translator.feed(decoded)]

    def finish(self) -> list[WireObject[ChatCompletionChunk]]:
        """Check that ``message_stop`` arrived."""
        return [WireObject(chunk) for chunk in self._translator.finish()]
