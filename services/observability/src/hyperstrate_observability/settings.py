"""Settings of the observability service (environment variables, see README)."""

from __future__ import annotations

from typing import ClassVar

from hyperstrate_kit.security import SecretBox
from hyperstrate_kit.settings import ServiceSettings, SettingsError

__all__ = ["ObservabilitySettings"]


class ObservabilitySettings(ServiceSettings, frozen=True, kw_only=True):
    """The observability service's configuration."""

    service_name: ClassVar[str] = "observability"
    default_port: ClassVar[int] = 8095

    #: Inference logs, payloads, audit entries and probe history older than this are purged.
    log_retention_days: int = 90
    health_check_interval_secs: int = 120
    #: Consecutive failed probes before a registration is reported unhealthy.
    health_failure_threshold: int = 2
    health_probe_timeout_secs: float = 10.0
    #: Prefix of this deployment's durable consumer names (two deployments sharing one NATS
    #: need different prefixes, or they would split one consumer's messages between them).
    consumer_prefix: str = "observability"
    #: Inference events written per transaction.
    log_batch_size: int = 500
    #: How long JetStream waits for a batch's ack before redelivering it elsewhere.
    log_ack_wait_secs: float = 30.0
    #: Webhook delivery: attempts before a delivery is dead-lettered, and the delay before
    #: each retry (the last one repeats).
    webhook_max_attempts: int = 10
    webhook_backoff_seconds: tuple[float, ...] = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0)
    webhook_timeout_secs: float = 10.0
    webhook_concurrency: int = 16

    def __post_init__(self) -> None:
        super().__post_init__()
        checks = (
            (self.log_retention_days >= 1, "LOG_RETENTION_DAYS: must be at least 1"),
            (
                self.health_check_interval_secs >= 1,
                "HEALTH_CHECK_INTERVAL_SECS: must be at least 1",
            ),
            (self.health_failure_threshold >= 1, "HEALTH_FAILURE_THRESHOLD: must be at least 1"),
            (self.health_probe_timeout_secs > 0, "HEALTH_PROBE_TIMEOUT_SECS: must be positive"),
            (
                bool(self.consumer_prefix) and self.consumer_prefix.replace("-", "").isalnum(),
                "CONSUMER_PREFIX: letters, digits and dashes only",
            ),
            (1 <= self.log_batch_size <= 5000, "LOG_BATCH_SIZE: must be between 1 and 5000"),
            (self.log_ack_wait_secs >= 1, "LOG_ACK_WAIT_SECS: must be at least 1"),
            (self.webhook_max_attempts >= 1, "WEBHOOK_MAX_ATTEMPTS: must be at least 1"),
            (
                bool(self.webhook_backoff_seconds)
                and all(delay >= 0 for delay in self.webhook_backoff_seconds),
                "WEBHOOK_BACKOFF_SECONDS: one or more delays, none negative",
            ),
            (self.webhook_timeout_secs > 0, "WEBHOOK_TIMEOUT_SECS: must be positive"),
            (self.webhook_concurrency >= 1, "WEBHOOK_CONCURRENCY: must be at least 1"),
            (
                bool(self.secrets_key) or not self.is_production,
                "SECRETS_KEY: must be set when APP_ENV=production (it encrypts webhook secrets)",
            ),
        )
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise SettingsError("; ".join(problems))
        if self.secrets_key:
            try:
                SecretBox.from_key_text(self.secrets_key)
            except ValueError as exc:
                raise SettingsError(f"SECRETS_KEY: {exc}") from None
