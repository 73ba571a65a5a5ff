"""The adapter protocol: build an upstream HTTP call from a canonical (OpenAI) request, and
turn the upstream's answer back into canonical completions and chunks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from hyperstrate_providers.adapters.config import ProviderConfig
from hyperstrate_providers.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from hyperstrate_providers.sse import SseEvent
from hyperstrate_providers.usage import TokenUsage
from hyperstrate_providers.wire import WireObject

__all__ = ["ChunkDecoder", "ParsedCompletion", "ProviderAdapter", "UpstreamCall"]


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """An HTTP request ready to send. The repr leaves out header values (they hold keys)."""

    method: str
    url: str
    headers: dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ParsedCompletion:
    """A canonical completion and the usage the provider reported (None when it reported
    none); the usage keeps details the OpenAI shape cannot hold, such as cache writes."""

    completion: WireObject[ChatCompletion]
    usage: TokenUsage | None


class ChunkDecoder(Protocol):
    """Turns the SSE events of one upstream stream into canonical chunks."""

    @property
    def usage(self) -> TokenUsage | None:
        """The usage the provider reported so far."""
        ...

    def feed(self, event: SseEvent) -> list[WireObject[ChatCompletionChunk]]:
        """Translate one event into zero or more chunks."""
        ...

    def finish(self) -> list[WireObject[ChatCompletionChunk]]:
        """End of the byte stream: closing chunks, or ``IncompleteStreamError``."""
        ...


class ProviderAdapter(Protocol):
    """What a provider wire format needs: a call builder and two response readers."""

    def build_call(
        self,
        config: ProviderConfig,
        request: WireObject[ChatCompletionRequest],
        *,
        stream: bool,
    ) -> UpstreamCall:
        """The HTTP call for ``request`` (may raise ``TranslationError``)."""
        ...

    def parse_completion(self, config: ProviderConfig, body: bytes) -> ParsedCompletion:
        """A successful non-streaming response body as a canonical completion."""
        ...

    def chunk_decoder(
        self, config: ProviderConfig, request: WireObject[ChatCompletionRequest]
    ) -> ChunkDecoder:
        """A fresh decoder for one streaming response."""
        ...

    def build_models_call(self, config: ProviderConfig) -> UpstreamCall:
        """The call that lists the provider's models."""
        ...

    def parse_models(self, body: bytes) -> list[str]:
        """Model ids from a successful model-list response."""
        ...
