"""Translation between the OpenAI, Anthropic and Gemini wire formats.

Non-streaming: ``*_request_to_*`` and ``*_response_to_*`` functions. Streaming: stateful
translators with ``feed(item) -> list[out]`` (zero or more outputs per input) and ``finish()``
(the closing outputs, or :class:`~hyperstrate_providers.errors.IncompleteStreamError`).
"""

from hyperstrate_providers.translate.anthropic_stream import AnthropicStreamToOpenAI
from hyperstrate_providers.translate.anthropic_to_openai import (
    anthropic_request_to_openai,
    anthropic_response_to_openai,
)
from hyperstrate_providers.translate.gemini import (
    GeminiStreamToOpenAI,
    gemini_response_to_openai,
    openai_request_to_gemini,
)
from hyperstrate_providers.translate.openai_stream import OpenAIStreamToAnthropic
from hyperstrate_providers.translate.openai_to_anthropic import (
    DEFAULT_MAX_TOKENS,
    openai_request_to_anthropic,
    openai_response_to_anthropic,
)
from hyperstrate_providers.translate.stop_reasons import (
    anthropic_stop_to_openai_finish,
    gemini_finish_to_openai_finish,
    openai_finish_to_anthropic_stop,
)

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "AnthropicStreamToOpenAI",
    "GeminiStreamToOpenAI",
    "OpenAIStreamToAnthropic",
    "anthropic_request_to_openai",
    "anthropic_response_to_openai",
    "anthropic_stop_to_openai_finish",
    "gemini_finish_to_openai_finish",
    "gemini_response_to_openai",
    "openai_finish_to_anthropic_stop",
    "openai_request_to_anthropic",
    "openai_request_to_gemini",
    "openai_response_to_anthropic",
]
