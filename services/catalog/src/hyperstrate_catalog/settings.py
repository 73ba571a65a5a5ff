"""Settings of the catalog service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.settings import ServiceSettings

__all__ = ["CatalogSettings"]


class CatalogSettings(ServiceSettings, frozen=True, kw_only=True):
    """The catalog service's configuration."""

    service_name: ClassVar[str] = "catalog"
    default_port: ClassVar[int] = 8092
