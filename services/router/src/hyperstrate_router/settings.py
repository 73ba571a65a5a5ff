"""Settings of the router service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar, Literal

from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["RouterSettings"]


class RouterSettings(ServiceSettings, frozen=True, kw_only=True):
    """The router service's configuration."""

    service_name: ClassVar[str] = "router"
    default_port: ClassVar[int] = 8093

    cache_backend: Literal["memory", "redis"] = "memory"
    cache_redis_addr: str = ""
    cache_redis_prefix: str = ""
    rate_limit_backend: Literal["memory", "redis"] = "memory"
    #: With the memory ledger: how long start-up waits for observability's record of spend.
    budget_restore_timeout_secs: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cache_backend == "redis" and not self.cache_redis_addr:
            raise SettingsError("CACHE_REDIS_ADDR: required when CACHE_BACKEND=redis")
        if self.rate_limit_backend == "redis" and not self.cache_redis_addr:
            raise SettingsError("CACHE_REDIS_ADDR: required when RATE_LIMIT_BACKEND=redis")
