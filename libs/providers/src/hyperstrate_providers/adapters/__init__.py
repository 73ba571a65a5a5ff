"""Provider adapters: build upstream calls from the canonical (OpenAI) request, send them
through a pooled client, and return canonical completions and chunks.

Typical use::

    async with ClientPool() as pool:
        client = ProviderClient(pool)
        config = ProviderConfig(kind=ProviderKind.ANTHROPIC, model="claude-...", api_key=key)
        result = await client.complete(config, decode_chat_request(body))
        stream = await client.open_stream(config, request)
        async with stream:
            async for chunk in stream:
                ...
"""

from hyperstrate_providers.adapters.anthropic import AnthropicAdapter
from hyperstrate_providers.adapters.base import (
    ChunkDecoder,
    ParsedCompletion,
    ProviderAdapter,
    UpstreamCall,
)
from hyperstrate_providers.adapters.client import (
    CompletionResult,
    CompletionStream,
    ProviderClient,
    stream_error_class,
)
from hyperstrate_providers.adapters.config import (
    DEFAULT_BASE_URLS,
    ProviderConfig,
    ProviderKind,
    WireFormat,
)
from hyperstrate_providers.adapters.gemini import GeminiAdapter
from hyperstrate_providers.adapters.openai import AzureOpenAIAdapter, OpenAIAdapter
from hyperstrate_providers.adapters.pool import ClientPool
from hyperstrate_providers.adapters.registry import adapter_for

__all__ = [
    "DEFAULT_BASE_URLS",
    "AnthropicAdapter",
    "AzureOpenAIAdapter",
    "ChunkDecoder",
    "ClientPool",
    "CompletionResult",
    "CompletionStream",
    "GeminiAdapter",
    "OpenAIAdapter",
    "ParsedCompletion",
    "ProviderAdapter",
    "ProviderClient",
    "ProviderConfig",
    "ProviderKind",
    "UpstreamCall",
    "WireFormat",
    "adapter_for",
    "stream_error_class",
]
