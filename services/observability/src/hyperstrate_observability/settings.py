"""Settings of the observability service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["ObservabilitySettings"]


class ObservabilitySettings(ServiceSettings, frozen=True, kw_only=True):
    """The observability service's configuration."""

    service_name: ClassVar[str] = "observability"
    default_port: ClassVar[int] = 8095

    log_retention_days: int = 90
    health_check_interval_secs: int = 120

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.log_retention_days < 1:
            raise SettingsError("LOG_RETENTION_DAYS: must be at least 1")
        if self.health_check_interval_secs < 1:
            raise SettingsError("HEALTH_CHECK_INTERVAL_SECS: must be at least 1")
