"""Settings of the router service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar, Literal

from hyperstrate_kit.settings import ServiceSettings, SettingsError
from hyperstrate_providers.errors import MAX_RETRY_AFTER_SECONDS
from hyperstrate_router.application.inference.payloads import (
    DEFAULT_PAYLOAD_MAX_BYTES,
    MAX_PAYLOAD_MAX_BYTES,
)

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
    #: `storePayloads`: the request and the answer are each cut at this many bytes.
    payload_max_bytes: int = DEFAULT_PAYLOAD_MAX_BYTES
    #: An upstream's Retry-After (passed on to clients, waited out by `retry`) is cut to this.
    upstream_retry_after_max_secs: float = MAX_RETRY_AFTER_SECONDS

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cache_backend == "redis" and not self.cache_redis_addr:
            raise SettingsError("CACHE_REDIS_ADDR: required when CACHE_BACKEND=redis")
        if self.rate_limit_backend == "redis" and not self.cache_redis_addr:
            raise SettingsError("CACHE_REDIS_ADDR: required when RATE_LIMIT_BACKEND=redis")
        if not 1024 <= self.payload_max_bytes <= MAX_PAYLOAD_MAX_BYTES:
            raise SettingsError(
                f"PAYLOAD_MAX_BYTES: must be between 1024 and {MAX_PAYLOAD_MAX_BYTES}"
                " (both bodies travel in one NATS message)"
            )
        if not 1 <= self.upstream_retry_after_max_secs <= 86_400:
            raise SettingsError("UPSTREAM_RETRY_AFTER_MAX_SECS: must be between 1 and 86400")
