"""Feature configs: one typed config per feature type, canonical in events, errors named."""

from __future__ import annotations

from typing import Any

import pytest

from hyperstrate_contracts.router import FEATURE_TYPES
from hyperstrate_router.domain import (
    FEATURE_CONFIGS,
    InvalidConfigError,
    config_to_dict,
    parse_feature_config,
)
from hyperstrate_router.domain.features import (
    BudgetConfig,
    FallbackConfig,
    HealthCheckConfig,
    RateLimitConfig,
    ResponseCacheConfig,
    RetryConfig,
    StructuredOutputConfig,
)

# The least config each type accepts (most need none: every field has a default).
MINIMAL: dict[str, dict[str, Any]] = {
    "rate_limit": {"requestsPerSecond": 5},
    "budget": {"maxCostUsd": 10},
}


def test_every_feature_type_has_a_config() -> None:
    assert set(FEATURE_CONFIGS) == set(FEATURE_TYPES)


@pytest.mark.parametrize("feature_type", FEATURE_TYPES)
def test_canonical_configs_parse_back_to_the_same_config(feature_type: str) -> None:
    config = parse_feature_config(feature_type, MINIMAL.get(feature_type, {}))
    canonical = config_to_dict(config)
    assert parse_feature_config(feature_type, canonical) == config
    assert config_to_dict(parse_feature_config(feature_type, canonical)) == canonical
    assert all(key[0].islower() and "_" not in key for key in canonical)  # camelCase keys


def test_defaults_of_the_inference_path_features() -> None:
    assert parse_feature_config("response_cache", {}) == ResponseCacheConfig(
        ttl_seconds=300, max_entries=10_000
    )
    retry = parse_feature_config("retry", None)
    assert retry == RetryConfig(
        max_attempts=3,
        initial_backoff_ms=200,
        max_backoff_ms=5_000,
        retry_on=("rate_limited", "server_error", "timeout", "connection"),
    )
    assert parse_feature_config("fallback", {}) == FallbackConfig(
        on_errors=("rate_limited", "server_error", "timeout", "connection"), max_fallbacks=None
    )
    assert parse_feature_config("structured_output", {}) == StructuredOutputConfig(
        repair=True, max_repair_attempts=1
    )
    assert parse_feature_config("health_check", {}) == HealthCheckConfig(
        skip_unhealthy=True, recheck_seconds=30.0, failure_threshold=3, probe="models"
    )
    assert parse_feature_config("budget", {"maxRequests": 0}) == BudgetConfig(
        max_requests=0, max_cost_usd=None, reset_period="monthly"
    )


def test_retry_backoff_doubles_up_to_the_cap() -> None:
    retry = RetryConfig(initial_backoff_ms=100, max_backoff_ms=1_000)
    assert [retry.backoff_ms(n) for n in range(1, 7)] == [100, 200, 400, 800, 1_000, 1_000]
    assert retry.backoff_ms(500) == 1_000


def test_rate_limit_takes_the_stricter_rate_and_a_sensible_bucket() -> None:
    per_minute = parse_feature_config("rate_limit", {"requestsPerMinute": 30})
    assert isinstance(per_minute, RateLimitConfig)
    assert per_minute.rate_per_second == 0.5 and per_minute.bucket_size == 1
    both = RateLimitConfig(requests_per_second=10, requests_per_minute=120)
    assert both.rate_per_second == 2.0 and both.bucket_size == 2
    assert RateLimitConfig(requests_per_second=7.5).bucket_size == 8
    assert RateLimitConfig(requests_per_second=100, burst=3).bucket_size == 3


@pytest.mark.parametrize(
    ("feature_type", "config", "field"),
    [
        ("teleport", {}, "type"),
        ("retry", [], "config"),
        ("retry", {"maxAttempts": 0}, "config.maxAttempts"),
        ("retry", {"maxAttempts": True}, "config.maxAttempts"),
        ("retry", {"maxAttempts": 3.0}, "config.maxAttempts"),
        ("retry", {"retryOn": ["timeout", "oops"]}, "config.retryOn[1]"),
        ("retry", {"initialBackoffMs": 10, "maxBackoffMs": 5}, "config.maxBackoffMs"),
        ("retry", {"MaxAttempts": 3}, "config.MaxAttempts"),
        ("retry", {"max_attempts": 3}, "config.max_attempts"),
        ("response_cache", {"ttlSeconds": -5}, "config.ttlSeconds"),
        ("response_cache", {"maxEntries": None}, "config.maxEntries"),
        ("fallback", {"onErrors": ["timeout", "timeout"]}, "config.onErrors[1]"),
        ("fallback", {"maxFallbacks": 0}, "config.maxFallbacks"),
        ("rate_limit", {"burst": 2}, "config.requestsPerSecond"),
        ("rate_limit", {"requestsPerMinute": -1}, "config.requestsPerMinute"),
        ("budget", {"maxRequests": None, "maxCostUsd": None}, "config.maxRequests"),
        ("budget", {"maxCostUsd": 1, "resetPeriod": "never"}, "config.resetPeriod"),
        ("structured_output", {"maxRepairAttempts": -1}, "config.maxRepairAttempts"),
        ("health_check", {"skipUnhealthy": "no"}, "config.skipUnhealthy"),
        ("health_check", {"probe": "ping"}, "config.probe"),
        ("context_trimming", {"strategy": "random"}, "config.strategy"),
        ("response_fingerprinting", {"headerName": "bad header"}, "config.headerName"),
    ],
)
def test_bad_configs_name_the_field(feature_type: str, config: Any, field: str) -> None:
    with pytest.raises(InvalidConfigError) as raised:
        parse_feature_config(feature_type, config)
    assert field in raised.value.fields, raised.value.fields
    assert raised.value.status_code == 400
