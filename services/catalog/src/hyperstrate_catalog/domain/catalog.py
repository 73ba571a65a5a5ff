"""The model catalog, baked into code: adding a model is adding one entry to `MODELS`.

Prices are USD per million tokens (input, output, cached input reads), as the providers list
them for standard (non-batch) use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from hyperstrate_providers import ModelPrice, ProviderKind

__all__ = ["MODELS", "Capabilities", "CatalogModel", "find_model"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a model can do beyond plain chat."""

    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    streaming: bool = True


@dataclass(frozen=True, slots=True)
class CatalogModel:
    """One supported model. `key` is how registrations refer to it (the model id)."""

    key: str
    provider: ProviderKind
    model_id: str
    display_name: str
    context_window: int
    max_output_tokens: int
    price: ModelPrice
    capabilities: Capabilities
    #: True when the provider kind has no default endpoint for this model (test doubles,
    #: self-hosted servers): a registration must give its base URL.
    base_url_required: bool = False


def _price(input_: str, output: str, cached: str | None = None) -> ModelPrice:
    return ModelPrice(
        input_per_million=Decimal(input_),
        output_per_million=Decimal(output),
        cached_input_per_million=Decimal(cached) if cached is not None else None,
    )


_FULL = Capabilities(tools=True, vision=True, json_schema=True, streaming=True)
_TEXT_TOOLS = Capabilities(tools=True, vision=False, json_schema=True, streaming=True)

_ENTRIES: tuple[CatalogModel, ...] = (
    # OpenAI
    CatalogModel("gpt-4o", ProviderKind.OPENAI, "gpt-4o", "GPT-4o",
                 128_000, 16_384, _price("2.50", "10.00", "1.25"), _FULL),
    CatalogModel("gpt-4o-mini", ProviderKind.OPENAI, "gpt-4o-mini", "GPT-4o mini",
                 128_000, 16_384, _price("0.15", "0.60", "0.075"), _FULL),
    CatalogModel("gpt-4.1", ProviderKind.OPENAI, "gpt-4.1", "GPT-4.1",
                 1_047_576, 32_768, _price("2.00", "8.00", "0.50"), _FULL),
    CatalogModel("gpt-4.1-mini", ProviderKind.OPENAI, "gpt-4.1-mini", "GPT-4.1 mini",
                 1_047_576, 32_768, _price("0.40", "1.60", "0.10"), _FULL),
    CatalogModel("o3-mini", ProviderKind.OPENAI, "o3-mini", "o3-mini",
                 200_000, 100_000, _price("1.10", "4.40", "0.55"), _TEXT_TOOLS),
    # Anthropic
    CatalogModel("claude-sonnet-4-5", ProviderKind.ANTHROPIC, "claude-sonnet-4-5",
                 "Claude Sonnet 4.5", 200_000, 64_000, _price("3.00", "15.00", "0.30"), _FULL),
    CatalogModel("claude-haiku-4-5", ProviderKind.ANTHROPIC, "claude-haiku-4-5",
                 "Claude Haiku 4.5", 200_000, 64_000, _price("1.00", "5.00", "0.10"), _FULL),
    CatalogModel("claude-opus-4-1", ProviderKind.ANTHROPIC, "claude-opus-4-1",
                 "Claude Opus 4.1", 200_000, 32_000, _price("15.00", "75.00", "1.50"), _FULL),
    # Google
    CatalogModel("gemini-2.5-pro", ProviderKind.GEMINI, "gemini-2.5-pro", "Gemini 2.5 Pro",
                 1_048_576, 65_536, _price("1.25", "10.00", "0.31"), _FULL),
    CatalogModel("gemini-2.5-flash", ProviderKind.GEMINI, "gemini-2.5-flash",
                 "Gemini 2.5 Flash", 1_048_576, 65_536, _price("0.30", "2.50", "0.075"), _FULL),
    # The fake upstream shipped in libs/providers (tests, demos, benchmarks)
    CatalogModel("fake-gpt", ProviderKind.OPENAI_COMPATIBLE, "fake-gpt", "Fake GPT (test double)",
                 128_000, 16_384, _price("1.00", "2.00", "0.50"), _FULL, base_url_required=True),
    CatalogModel("fake-claude", ProviderKind.ANTHROPIC, "fake-claude",
                 "Fake Claude (test double)", 200_000, 8_192, _price("3.00", "15.00", "0.30"),
                 _FULL, base_url_required=True),
)  # fmt: skip

#: Every supported model by key.
MODELS: Mapping[str, CatalogModel] = {entry.key: entry for entry in _ENTRIES}
assert len(MODELS) == len(_ENTRIES), "catalog keys must be unique"


def find_model(key: str) -> CatalogModel | None:
    """The catalog entry of `key`, if supported."""
    return MODELS.get(key)
