"""Token usage in one provider-neutral shape, local token estimates, and cost.

Counting convention (the same whatever the provider):

* ``input_tokens`` is every prompt token, *including* cached reads and cache writes;
  ``cached_input_tokens`` and ``cache_creation_input_tokens`` say how many of them were those.
* ``output_tokens`` is every generated token, *including* hidden reasoning tokens;
  ``reasoning_tokens`` says how many of them were reasoning.

When a provider reports no usage, :func:`estimate_usage` counts locally with a deliberately
simple, deterministic approximation: ``ceil(len(text) / 4)`` tokens for each piece of text (the
rule of thumb for English with BPE tokenizers), plus 4 tokens of framing per message and 85 per
image, audio clip or file (OpenAI's low-detail image cost). It is not a tokenizer; it is stable,
cheap, and the same for every provider, and usage built from it has ``estimated=True``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import gemini_types as gemini
from hyperstrate_providers import openai_types as openai

__all__ = [
    "ModelPrice",
    "TokenUsage",
    "cost_of",
    "estimate_request_tokens",
    "estimate_tokens",
    "estimate_usage",
    "request_token_bound",
    "text_token_bound",
    "usage_from_anthropic",
    "usage_from_gemini",
    "usage_from_openai",
    "usage_to_anthropic",
    "usage_to_openai",
]

CHARS_PER_TOKEN = 4
MESSAGE_FRAMING_TOKENS = 4
MEDIA_PART_TOKENS = 85
# Upper bounds for budget reservations: byte-level BPE tokenizers spend at least ~3 UTF-8
# bytes per token on English, code and CJK text alike, and a high-detail image costs at most
# ~1,600 tokens at OpenAI and Anthropic.
BYTES_PER_TOKEN_BOUND = 3
MEDIA_PART_TOKEN_BOUND = 2_000
_MILLION = Decimal(1_000_000)


class TokenUsage(msgspec.Struct, frozen=True, omit_defaults=True):
    """Tokens of one completion (see the module docstring for what includes what)."""

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class ModelPrice(msgspec.Struct, frozen=True):
    """Prices in a currency unit per million tokens.

    ``cached_input_per_million`` defaults to the input price; cache writes are billed at the
    input price (a catalog that knows a surcharge can fold it in there).
    """

    input_per_million: Decimal
    output_per_million: Decimal
    cached_input_per_million: Decimal | None = None


def cost_of(usage: TokenUsage, price: ModelPrice) -> Decimal:
    """The exact cost of ``usage`` at ``price`` (no rounding)."""
    cached_price = price.cached_input_per_million
    if cached_price is None:
        cached_price = price.input_per_million
    uncached_input = usage.input_tokens - usage.cached_input_tokens
    total = (
        uncached_input * price.input_per_million
        + usage.cached_input_tokens * cached_price
        + usage.output_tokens * price.output_per_million
    )
    return total / _MILLION


# --- from and to provider usage blocks -------------------------------------------------------


def usage_from_openai(usage: openai.Usage) -> TokenUsage:
    """Read an OpenAI ``usage`` block."""
    cached = 0
    if usage.prompt_tokens_details is not None:
        cached = usage.prompt_tokens_details.cached_tokens or 0
    reasoning = 0
    if usage.completion_tokens_details is not None:
        reasoning = usage.completion_tokens_details.reasoning_tokens or 0
    return TokenUsage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
    )


def usage_to_openai(usage: TokenUsage) -> openai.Usage:
    """Write an OpenAI ``usage`` block (details only when non-zero)."""
    prompt_details = None
    if usage.cached_input_tokens:
        prompt_details = openai.PromptTokensDetails(cached_tokens=usage.cached_input_tokens)
    completion_details = None
    if usage.reasoning_tokens:
        completion_details = openai.CompletionTokensDetails(reasoning_tokens=usage.reasoning_tokens)
    return openai.Usage(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=prompt_details,
        completion_tokens_details=completion_details,
    )


def usage_from_anthropic(
    usage: anthropic.Usage | anthropic.MessageDeltaUsage,
) -> TokenUsage:
    """Read an Anthropic ``usage`` block (Anthropic counts cache tokens beside ``input_tokens``)."""
    cache_read = usage.cache_read_input_tokens or 0
    cache_creation = usage.cache_creation_input_tokens or 0
    return TokenUsage(
        input_tokens=(usage.input_tokens or 0) + cache_read + cache_creation,
        output_tokens=usage.output_tokens,
        cached_input_tokens=cache_read,
        cache_creation_input_tokens=cache_creation,
    )


def usage_to_anthropic(usage: TokenUsage) -> anthropic.Usage:
    """Write an Anthropic ``usage`` block (cache tokens moved out of ``input_tokens``)."""
    return anthropic.Usage(
        input_tokens=usage.input_tokens
        - usage.cached_input_tokens
        - usage.cache_creation_input_tokens,
        output_tokens=usage.output_tokens,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or None,
        cache_read_input_tokens=usage.cached_input_tokens or None,
    )


def usage_from_gemini(usage: gemini.UsageMetadata) -> TokenUsage:
    """Read Gemini ``usageMetadata`` (thought tokens are added to the output)."""
    thoughts = usage.thoughts_token_count or 0
    return TokenUsage(
        input_tokens=usage.prompt_token_count,
        output_tokens=usage.candidates_token_count + thoughts,
        cached_input_tokens=usage.cached_content_token_count or 0,
        reasoning_tokens=thoughts,
    )


# --- local estimates -------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """``ceil(len(text) / 4)``: the documented approximation, 0 for empty text."""
    return -(-len(text) // CHARS_PER_TOKEN)


def _content_tokens(content: str | list[openai.ContentPart] | None) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_tokens(content)
    tokens = 0
    for part in content:
        if isinstance(part, openai.TextPart):
            tokens += estimate_tokens(part.text)
        elif isinstance(part, openai.RefusalPart):
            tokens += estimate_tokens(part.refusal)
        else:
            tokens += MEDIA_PART_TOKENS
    return tokens


def estimate_request_tokens(request: openai.ChatCompletionRequest) -> int:
    """Estimate the prompt tokens of a request: messages, tool calls and tool definitions."""
    tokens = 0
    for message in request.messages:
        tokens += MESSAGE_FRAMING_TOKENS + _content_tokens(message.content)
        for call in message.tool_calls or ():
            tokens += estimate_tokens(call.function.name) + estimate_tokens(call.function.arguments)
    if request.tools:
        tokens += estimate_tokens(msgspec.json.encode(request.tools).decode())
    return tokens


def estimate_usage(
    request: openai.ChatCompletionRequest, output_texts: Iterable[str]
) -> TokenUsage:
    """Estimated usage of a completion whose provider reported none; the output texts
    (content, reasoning, tool names and arguments, possibly as stream fragments) are counted
    as one text, so a stream and a whole response get the same estimate."""
    output_tokens = estimate_tokens("".join(output_texts))
    return TokenUsage(
        input_tokens=estimate_request_tokens(request),
        output_tokens=output_tokens,
        estimated=True,
    )


def text_token_bound(text: str) -> int:
    """An upper bound on the tokens of `text` (see `request_token_bound`)."""
    return -(-len(text.encode()) // BYTES_PER_TOKEN_BOUND)


def request_token_bound(request: openai.ChatCompletionRequest) -> int:
    """An upper bound on a request's prompt tokens (what a budget reserves before the call;
    `estimate_request_tokens` is the likelier count, used to bill when no usage came)."""
    tokens = 0
    for message in request.messages:
        tokens += MESSAGE_FRAMING_TOKENS
        content = message.content
        if isinstance(content, str):
            tokens += text_token_bound(content)
        elif content is not None:
            for part in content:
                if isinstance(part, openai.TextPart):
                    tokens += text_token_bound(part.text)
                elif isinstance(part, openai.RefusalPart):
                    tokens += text_token_bound(part.refusal)
                else:
                    tokens += MEDIA_PART_TOKEN_BOUND
        for call in message.tool_calls or ():
            tokens += text_token_bound(call.function.name + call.function.arguments)
    if request.tools:
        tokens += text_token_bound(msgspec.json.encode(request.tools).decode())
    if request.response_format is not None:
        tokens += text_token_bound(msgspec.json.encode(request.response_format).decode())
    return tokens
