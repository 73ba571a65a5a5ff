"""Settings of the catalog service and its worker (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.security import SecretBox
from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["CatalogSettings"]


class CatalogSettings(ServiceSettings, frozen=True, kw_only=True):
    """The catalog service's configuration (the worker reads the same)."""

    service_name: ClassVar[str] = "catalog"
    default_port: ClassVar[int] = 8092

    #: Upstream read timeout (seconds between bytes) of direct inference and jobs.
    upstream_read_timeout_seconds: float = 120.0
    #: How long the JOBS server waits for an ack before redelivering (kept alive meanwhile).
    job_ack_wait_seconds: float = 30.0
    #: Deliveries of one job message before it goes to the dead-letter subject.
    job_max_deliver: int = 5
    #: Jobs the worker runs at once.
    job_concurrency: int = 8
    #: How often the API re-publishes jobs whose first publish failed.
    job_dispatch_sweep_seconds: float = 5.0
    #: Callback delivery: attempts, and the delay before each retry (the last one repeats).
    callback_max_attempts: int = 5
    callback_backoff_seconds: tuple[float, ...] = (1.0, 4.0, 15.0, 60.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.is_production and not self.secrets_key:
            raise SettingsError(
                "SECRETS_KEY: must be set when APP_ENV=production "
                "(a base64 32-byte key; generate one with "
                "`python -c 'from hyperstrate_kit.security import generate_secret_key_text as g;"
                " print(g())'`)"
            )
        if self.secrets_key:
            try:
                SecretBox.from_key_text(self.secrets_key)
            except ValueError as exc:
                raise SettingsError(f"SECRETS_KEY: {exc}") from None
        if self.job_ack_wait_seconds <= 0:
            raise SettingsError("JOB_ACK_WAIT_SECONDS: must be positive")
        if self.job_max_deliver < 1:
            raise SettingsError("JOB_MAX_DELIVER: must be at least 1")
        if self.job_concurrency < 1:
            raise SettingsError("JOB_CONCURRENCY: must be at least 1")
        if self.callback_max_attempts < 1:
            raise SettingsError("CALLBACK_MAX_ATTEMPTS: must be at least 1")
        if any(delay < 0 for delay in self.callback_backoff_seconds):
            raise SettingsError("CALLBACK_BACKOFF_SECONDS: delays must not be negative")
