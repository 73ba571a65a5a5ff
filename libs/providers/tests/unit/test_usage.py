"""Usage from every provider's block, local estimates, and cost."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import gemini_types as gemini
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.usage import (
    ModelPrice,
    TokenUsage,
    cost_of,
    estimate_request_tokens,
    estimate_tokens,
    estimate_usage,
    usage_from_anthropic,
    usage_from_gemini,
    usage_from_openai,
    usage_to_anthropic,
    usage_to_openai,
)


def test_openai_usage_reads_cached_and_reasoning_details() -> None:
    usage = openai.Usage(
        prompt_tokens=100,
        completion_tokens=50,
        total_tokens=150,
        prompt_tokens_details=openai.PromptTokensDetails(cached_tokens=60),
        completion_tokens_details=openai.CompletionTokensDetails(reasoning_tokens=20),
    )

    converted = usage_from_openai(usage)

    assert converted == TokenUsage(
        input_tokens=100, output_tokens=50, cached_input_tokens=60, reasoning_tokens=20
    )
    assert usage_to_openai(converted) == usage


def test_anthropic_usage_adds_cache_tokens_to_the_input() -> None:
    usage = anthropic.Usage(
        input_tokens=10,
        output_tokens=5,
        cache_creation_input_tokens=30,
        cache_read_input_tokens=200,
    )

    converted = usage_from_anthropic(usage)

    assert converted == TokenUsage(
        input_tokens=240,
        output_tokens=5,
        cached_input_tokens=200,
        cache_creation_input_tokens=30,
    )
    assert usage_to_anthropic(converted) == usage


def test_gemini_thought_tokens_count_as_reasoning_output() -> None:
    usage = gemini.UsageMetadata(
        prompt_token_count=40,
        candidates_token_count=10,
        total_token_count=65,
        cached_content_token_count=8,
        thoughts_token_count=15,
    )

    assert usage_from_gemini(usage) == TokenUsage(
        input_tokens=40, output_tokens=25, cached_input_tokens=8, reasoning_tokens=15
    )


def test_estimate_is_a_quarter_of_the_characters_rounded_up() -> None:
    assert [estimate_tokens(text) for text in ("", "a", "abcd", "abcde")] == [0, 1, 1, 2]


def test_request_estimate_counts_framing_text_media_and_tools() -> None:
    request = msgspec.convert(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "12345678"},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "abcd"},
                        {"type": "image_url", "image_url": {"url": "https://x"}},
                    ],
                },
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            ],
        },
        openai.ChatCompletionRequest,
    )

    # 3 messages x 4 framing + 2 ("12345678") + 1 ("abcd") + 85 (image) + 1 ("f") + 1 ("{}")
    assert estimate_request_tokens(request) == 12 + 2 + 1 + 85 + 1 + 1


def test_estimated_usage_is_marked_as_estimated() -> None:
    request = msgspec.convert(
        {"model": "m", "messages": [{"role": "user", "content": "hello"}]},
        openai.ChatCompletionRequest,
    )

    usage = estimate_usage(request, ["Hi", " there"])

    # "Hi there" is 8 characters: 2 tokens, however it was split
    assert usage == TokenUsage(input_tokens=4 + 2, output_tokens=2, estimated=True)
    assert usage.total_tokens == 8


def test_cost_bills_cached_input_at_the_cached_price() -> None:
    price = ModelPrice(
        input_per_million=Decimal("2.50"),
        output_per_million=Decimal("10"),
        cached_input_per_million=Decimal("1.25"),
    )
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=400_000)

    # 600k uncached x 2.50 + 400k cached x 1.25 + 500k output x 10, per million
    assert cost_of(usage, price) == Decimal("1.5") + Decimal("0.5") + Decimal("5")


def test_cost_without_a_cached_price_bills_cached_input_as_input() -> None:
    price = ModelPrice(input_per_million=Decimal("3"), output_per_million=Decimal("15"))
    usage = TokenUsage(input_tokens=1000, output_tokens=100, cached_input_tokens=500)

    assert cost_of(usage, price) == Decimal("0.0045")
