"""Google Gemini (Generative Language API), reached through translation.

``POST {base_url}/v1beta/models/{model}:generateContent`` or
``:streamGenerateContent?alt=sse``, with the key in the ``x-goog-api-key`` header (never in the
URL, where it would end up in logs and error texts).
"""

from __future__ import annotations

import msgspec

from hyperstrate_providers import gemini_types as gemini
from hyperstrate_providers.adapters.base import ParsedCompletion, UpstreamCall
from hyperstrate_providers.adapters.config import ProviderConfig
from hyperstrate_providers.errors import UpstreamStreamError
from hyperstrate_providers.openai_types import (
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from hyperstrate_providers.sse import SseEvent
from hyperstrate_providers.translate import (
    GeminiStreamToOpenAI,
    gemini_response_to_openai,
    openai_request_to_gemini,
)
from hyperstrate_providers.usage import TokenUsage, usage_from_gemini
from hyperstrate_providers.wire import WireDecodeError, WireObject

__all__ = ["GeminiAdapter", "GeminiChunkDecoder"]

_encoder = msgspec.json.Encoder()
_response_decoder = msgspec.json.Decoder(gemini.GenerateContentResponse)


class _GeminiModel(msgspec.Struct):
    name: str


class _GeminiModelList(msgspec.Struct):
    models: list[_GeminiModel] = []


_model_list_decoder = msgspec.json.Decoder(_GeminiModelList)


class GeminiAdapter:
    """Translate to ``generateContent``, and its responses and stream events back."""

    def build_call(
        self,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        *,
        stream: bool,
    ) -> UpstreamCall:
        """The ``generateContent`` (or streaming) call for ``request``."""
        translated = openai_request_to_gemini(request.typed)
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            **config.extra_headers,
            "x-goog-api-key": config.api_key,
        }
        return UpstreamCall(
            method="POST",
            url=f"{config.resolved_base_url}/v1beta/models/{config.model}:{method}",
            headers=headers,
            body=_encoder.encode(translated),
        )

    def parse_completion(self, config: ProviderConfig, body: bytes) -> ParsedCompletion:
        """A ``generateContent`` response as a canonical completion."""
        try:
            response = _response_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise WireDecodeError(str(exc)) from None
        completion = WireObject(gemini_response_to_openai(response, model=config.model))
        usage = response.usage_metadata
        return ParsedCompletion(completion, usage_from_gemini(usage) if usage else None)

    def chunk_decoder(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> GeminiChunkDecoder:
        """A decoder that runs a :class:`GeminiStreamToOpenAI` translator."""
        return GeminiChunkDecoder(config.model)

    def build_models_call(self, config: ProviderConfig) -> UpstreamCall:
        """``GET {base_url}/v1beta/models``."""
        return UpstreamCall(
            method="GET",
            url=f"{config.resolved_base_url}/v1beta/models",
            headers={
                "accept": "application/json",
                **config.extra_headers,
                "x-goog-api-key": config.api_key,
            },
            body=b"",
        )

    def parse_models(self, body: bytes) -> list[str]:
        """Model ids without the ``models/`` prefix."""
        try:
            listed = _model_list_decoder.decode(body)
        except msgspec.DecodeError as exc:
            raise WireDecodeError(str(exc)) from None
        return [model.name.removeprefix("models/") for model in listed.models]


class GeminiChunkDecoder:
    """Gemini SSE events (each a partial response) through :class:`GeminiStreamToOpenAI`."""

    def __init__(self, model: str) -> None:
        """Start a fresh translator for ``model``."""
        self._translator = GeminiStreamToOpenAI(model=model)

    @property
    def usage(self) -> TokenUsage | None:
        """The latest usage reported."""
        return self._translator.usage

    def feed(self, event: SseEvent) -> list[WireObject[ChatCompletionChunk]]:
        """Translate one event."""
        if not event.data.strip():
            return []
        try:
            raw = msgspec.json.decode(event.data)
            if isinstance(raw, dict) and isinstance(raw.get("error"), dict):
                error = raw["error"]
                raise UpstreamStreamError(str(error.get("status")), str(error.get("message")))
            decoded = msgspec.convert(raw, gemini.GenerateContentResponse)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise WireDecodeError(str(exc)) from None
        return [WireObject(chunk) for chunk in self._translator.feed(decoded)]

    def finish(self) -> list[WireObject[ChatCompletionChunk]]:
        """The usage chunk, once a finish reason has been seen."""
        return [WireObject(chunk) for chunk in self._translator.finish()]
