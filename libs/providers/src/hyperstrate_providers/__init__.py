"""LLM provider adapters for the hyperstrate gateway.

* :mod:`.openai_types`, :mod:`.anthropic_types`, :mod:`.gemini_types`: wire types (msgspec).
* :mod:`.wire`: :class:`WireObject`, a JSON object plus its typed view, so unknown fields pass
  through untouched.
* :mod:`.translate`: OpenAI <-> Anthropic (and OpenAI -> Gemini) requests, responses, streams.
* :mod:`.adapters`: provider configs, the pooled HTTP client, and :class:`ProviderClient`,
  which calls any provider with the canonical (OpenAI) request.
* :mod:`.usage`: provider-neutral token usage, local estimates, cost.
* :mod:`.errors`: the error classes a router acts on (retryable or not).
* :mod:`.fake_upstream`: a scriptable fake provider for tests, demos and benchmarks.
"""

from hyperstrate_providers.adapters import (
    ClientPool,
    CompletionResult,
    CompletionStream,
    ProviderClient,
    ProviderConfig,
    ProviderKind,
)
from hyperstrate_providers.anthropic_types import decode_messages_request
from hyperstrate_providers.errors import ErrorClass, ProviderError, TranslationError
from hyperstrate_providers.openai_types import decode_chat_request
from hyperstrate_providers.usage import (
    ModelPrice,
    TokenUsage,
    cost_of,
    estimate_usage,
    request_token_bound,
)
from hyperstrate_providers.wire import WireDecodeError, WireObject, decode_json_object

__all__ = [
    "ClientPool",
    "CompletionResult",
    "CompletionStream",
    "ErrorClass",
    "ModelPrice",
    "ProviderClient",
    "ProviderConfig",
    "ProviderError",
    "ProviderKind",
    "TokenUsage",
    "TranslationError",
    "WireDecodeError",
    "WireObject",
    "cost_of",
    "decode_chat_request",
    "decode_json_object",
    "decode_messages_request",
    "estimate_usage",
    "request_token_bound",
]
