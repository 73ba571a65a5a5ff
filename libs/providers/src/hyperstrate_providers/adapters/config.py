"""Which provider to call and how: kinds, default base URLs, and the per-target config."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["DEFAULT_BASE_URLS", "ProviderConfig", "ProviderKind", "WireFormat"]


class WireFormat(StrEnum):
    """The HTTP API a provider speaks."""

    OPENAI = "openai"
    AZURE_OPENAI = "azure_openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


class ProviderKind(StrEnum):
    """A provider. The OpenAI-compatible ones differ only by base URL."""

    OPENAI = "openai"
    OPENAI_COMPATIBLE = "openai_compatible"
    VLLM = "vllm"
    OLLAMA = "ollama"
    GROQ = "groq"
    TOGETHER = "together"
    MISTRAL = "mistral"
    DEEPSEEK = "deepseek"
    OPENROUTER = "openrouter"
    ANTHROPIC = "anthropic"
    AZURE_OPENAI = "azure_openai"
    GEMINI = "gemini"

    @property
    def wire_format(self) -> WireFormat:
        """The API this kind speaks."""
        if self is ProviderKind.ANTHROPIC:
            return WireFormat.ANTHROPIC
        if self is ProviderKind.AZURE_OPENAI:
            return WireFormat.AZURE_OPENAI
        if self is ProviderKind.GEMINI:
            return WireFormat.GEMINI
        return WireFormat.OPENAI


DEFAULT_BASE_URLS: Mapping[ProviderKind, str] = {
    ProviderKind.OPENAI: "https://api.openai.com/v1",
    ProviderKind.VLLM: "http://localhost:8000/v1",
    ProviderKind.OLLAMA: "http://localhost:11434/v1",
    ProviderKind.GROQ: "https://api.groq.com/openai/v1",
    ProviderKind.TOGETHER: "https://api.together.xyz/v1",
    ProviderKind.MISTRAL: "https://api.mistral.ai/v1",
    ProviderKind.DEEPSEEK: "https://api.deepseek.com/v1",
    ProviderKind.OPENROUTER: "https://openrouter.ai/api/v1",
    ProviderKind.ANTHROPIC: "https://api.anthropic.com",
    ProviderKind.GEMINI: "https://generativelanguage.googleapis.com",
}
"""Base URLs as the providers' SDKs use them: OpenAI-style ones end in ``/v1``; Anthropic and
Gemini ones are origins (the adapter adds ``/v1/messages`` or ``/v1beta/models/...``).
``openai_compatible`` and ``azure_openai`` have none: ``base_url`` is required."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """One upstream target: where, which model, with which credentials.

    ``model`` is the upstream model id (for Azure, the deployment name unless ``deployment`` is
    set). ``api_version`` is Azure's ``api-version`` or Anthropic's ``anthropic-version``
    (defaults apply when None). ``read_timeout`` overrides the pool's for this target.
    ``default_max_tokens`` fills Anthropic's required ``max_tokens`` when the request has none.
    The repr shows neither the API key nor header values.
    """

    kind: ProviderKind
    model: str
    api_key: str = field(default="", repr=False)
    base_url: str | None = None
    extra_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    api_version: str | None = None
    deployment: str | None = None
    read_timeout: float | None = None
    default_max_tokens: int = 4096

    @property
    def resolved_base_url(self) -> str:
        """``base_url`` without a trailing slash, else the kind's default."""
        base_url = self.base_url or DEFAULT_BASE_URLS.get(self.kind)
        if not base_url:
            raise ValueError(f"provider kind {self.kind.value!r} needs a base_url")
        return base_url.rstrip("/")

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs or errors: the key and header values."""
        return (self.api_key, *self.extra_headers.values())

    def __repr__(self) -> str:
        return (
            f"ProviderConfig(kind={self.kind.value!r}, model={self.model!r}, "
            f"base_url={self.base_url!r}, api_key={'***' if self.api_key else ''!r}, "
            f"extra_headers={sorted(self.extra_headers)!r})"
        )
