"""The adapter for each wire format."""

from __future__ import annotations

from hyperstrate_providers.adapters.anthropic import AnthropicAdapter
from hyperstrate_providers.adapters.base import ProviderAdapter
from hyperstrate_providers.adapters.config import ProviderKind, WireFormat
from hyperstrate_providers.adapters.gemini import GeminiAdapter
from hyperstrate_providers.adapters.openai import AzureOpenAIAdapter, OpenAIAdapter

__all__ = ["adapter_for"]

_ADAPTERS: dict[WireFormat, ProviderAdapter] = {
    WireFormat.OPENAI: OpenAIAdapter(),
    WireFormat.AZURE_OPENAI: AzureOpenAIAdapter(),
    WireFormat.ANTHROPIC: AnthropicAdapter(),
    WireFormat.GEMINI: GeminiAdapter(),
}


def adapter_for(kind: ProviderKind) -> ProviderAdapter:
    """The (stateless, shared) adapter of a provider kind."""
    return _ADAPTERS[kind.wire_format]
