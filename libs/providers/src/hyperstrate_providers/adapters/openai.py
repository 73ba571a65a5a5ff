"""OpenAI and every OpenAI-compatible API (vLLM, Ollama, Groq, Together, Mistral, DeepSeek,
OpenRouter), and Azure OpenAI.

The request is forwarded as received (``WireObject.raw``: unknown fields included) with
``model`` set to the target's, ``stream`` set, and ``stream_options.include_usage`` forced on
for streams so usage can be accounted; for OpenAI and Azure a legacy ``max_tokens`` is sent as
``max_completion_tokens`` (reasoning models refuse the former).
"""

from __future__ import annotations

from typing import Any

import msgspec

from hyperstrate_providers.adapters.base import ParsedCompletion, UpstreamCall
from hyperstrate_providers.adapters.config import ProviderConfig, ProviderKind
from hyperstrate_providers.errors import IncompleteStreamError, UpstreamStreamError
from hyperstrate_providers.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from hyperstrate_providers.sse import SseEvent
from hyperstrate_providers.usage import TokenUsage, usage_from_openai
from hyperstrate_providers.wire import WireDecodeError, WireObject

__all__ = [
    "DEFAULT_AZURE_API_VERSION",
    "AzureOpenAIAdapter",
    "OpenAIAdapter",
    "OpenAIChunkDecoder",
    "parse_model_list",
]

DEFAULT_AZURE_API_VERSION = "2024-10-21"

_json_encoder = msgspec.json.Encoder()


class _ModelEntry(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_ModelEntry]


_model_list_decoder = msgspec.json.Decoder(_ModelList)


def parse_model_list(body: bytes) -> list[str]:
    """The ids of a ``{"data": [{"id": ...}]}`` model list (OpenAI and Anthropic shape)."""
    try:
        return [entry.id for entry in _model_list_decoder.decode(body).data]
    except msgspec.DecodeError as exc:
        raise WireDecodeError(str(exc)) from None


def _request_body(
    config: ProviderConfig, request: WireObject[ChatCompletionRequest], *, stream: bool
) -> bytes:
    body: dict[str, Any] = dict(request.raw)
    if config.model:
        body["model"] = config.model
    if stream:
        options = body.get("stream_options")
        body["stream"] = True
        body["stream_options"] = {
            **(options if isinstance(options, dict) else {}),
            "include_usage": True,
        }
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    renames_max_tokens = config.kind in (ProviderKind.OPENAI, ProviderKind.AZURE_OPENAI)
    if renames_max_tokens and "max_tokens" in body and "max_completion_tokens" not in body:
        body["max_completion_tokens"] = body.pop("max_tokens")
    return _json_encoder.encode(body)


def _headers(config: ProviderConfig, *, stream: bool) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
        **config.extra_headers,
    }


class OpenAIAdapter:
    """``POST {base_url}/chat/completions`` with a bearer key (omitted when empty)."""

    def build_call(
        self,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        *,
        stream: bool,
    ) -> UpstreamCall:
        """The forwarded request (see the module docstring)."""
        return UpstreamCall(
            method="POST",
            url=f"{config.resolved_base_url}/chat/completions",
            headers=self._auth_headers(config, _headers(config, stream=stream)),
            body=_request_body(config, request, stream=stream),
        )

    def parse_completion(self, config: ProviderConfig, body: bytes) -> ParsedCompletion:
        """The upstream completion, every field kept."""
        completion = WireObject.decode(body, ChatCompletion)
        usage = completion.typed.usage
        return ParsedCompletion(completion, usage_from_openai(usage) if usage else None)

    def chunk_decoder(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> OpenAIChunkDecoder:
        """A decoder of ``data:`` chunks up to ``[DONE]``."""
        return OpenAIChunkDecoder()

    def build_models_call(self, config: ProviderConfig) -> UpstreamCall:
        """``GET {base_url}/models``."""
        headers = self._auth_headers(config, {"accept": "application/json"})
        return UpstreamCall(
            method="GET", url=f"{config.resolved_base_url}/models", headers=headers, body=b""
        )

    def parse_models(self, body: bytes) -> list[str]:
        """The ids of the model list."""
        return parse_model_list(body)

    def _auth_headers(self, config: ProviderConfig, headers: dict[str, str]) -> dict[str, str]:
        if config.api_key:
            headers["authorization"] = f"Bearer {config.api_key}"
        return headers


class AzureOpenAIAdapter(OpenAIAdapter):
    """``POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=...``
    with an ``api-key`` header."""

    def build_call(
        self,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        *,
        stream: bool,
    ) -> UpstreamCall:
        """The forwarded request on the deployment URL."""
        deployment = config.deployment or config.model
        return UpstreamCall(
            method="POST",
            url=(
                f"{config.resolved_base_url}/openai/deployments/{deployment}/chat/completions"
                f"?api-version={self._api_version(config)}"
            ),
            headers=self._auth_headers(config, _headers(config, stream=stream)),
            body=_request_body(config, request, stream=stream),
        )

    def build_models_call(self, config: ProviderConfig) -> UpstreamCall:
        """``GET {base_url}/openai/models?api-version=...``."""
        return UpstreamCall(
            method="GET",
            url=(
                f"{config.resolved_base_url}/openai/models?api-version={self._api_version(config)}"
            ),
            headers=self._auth_headers(config, {"accept": "application/json"}),
            body=b"",
        )

    def _api_version(self, config: ProviderConfig) -> str:
        return config.api_version or DEFAULT_AZURE_API_VERSION

    def _auth_headers(self, config: ProviderConfig, headers: dict[str, str]) -> dict[str, str]:
        headers["api-key"] = config.api_key
        return headers


class OpenAIChunkDecoder:
    """OpenAI SSE: one chunk per ``data:``, ``[DONE]`` last, ``{"error": ...}`` on failure."""

    def __init__(self) -> None:
        """Start before ``[DONE]``."""
        self._done = False
        self._usage: TokenUsage | None = None

    @property
    def usage(self) -> TokenUsage | None:
        """The usage of the usage chunk, once seen."""
        return self._usage

    def feed(self, event: SseEvent) -> list[WireObject[ChatCompletionChunk]]:
        """The chunk of one event (none for ``[DONE]`` and keep-alives)."""
        data = event.data.strip()
        if not data:
            return []
        if data == "[DONE]":
            self._done = True
            return []
        try:
            raw = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise WireDecodeError("a stream event is not JSON") from None
        if not isinstance(raw, dict):
            raise WireDecodeError("a stream event is not a JSON object")
        error = raw.get("error")
        if isinstance(error, dict):
            raise UpstreamStreamError(str(error.get("type") or "error"), str(error.get("message")))
        chunk = WireObject.from_raw(raw, ChatCompletionChunk)
        if chunk.typed.usage is not None:
            self._usage = usage_from_openai(chunk.typed.usage)
        return [chunk]

    def finish(self) -> list[WireObject[ChatCompletionChunk]]:
        """Raise :class:`IncompleteStreamError` unless ``[DONE]`` was received."""
        if not self._done:
            raise IncompleteStreamError("the stream ended before [DONE]")
        return []
