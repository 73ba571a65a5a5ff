"""Settings of the prompts service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.settings import ServiceSettings

__all__ = ["PromptsSettings"]


class PromptsSettings(ServiceSettings, frozen=True, kw_only=True):
    """The prompts service's configuration."""

    service_name: ClassVar[str] = "prompts"
    default_port: ClassVar[int] = 8094
