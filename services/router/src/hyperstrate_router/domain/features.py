"""The typed config of every pipeline feature, and `parse_feature_config`.

One config per feature type and router. The admin API validates a config with
`parse_feature_config` before it becomes a `RouterFeatureSet` event, and stores the canonical
form (`config_to_dict`: camelCase, defaults filled in); the pipeline parses the event's config
again with the same function, so both sides agree on every field and default.

The features of the inference-path issue have their full rules here (`response_cache`,
`retry`, `fallback`, `rate_limit`, `budget`, `structured_output`, `health_check`). The others
are accepted and stored with a typed config of known optional fields; their stages come later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from hyperstrate_contracts.router import FEATURE_TYPES
from hyperstrate_router.domain.typed_config import (
    ERROR_CLASSES,
    ErrorClass,
    Fraction,
    Id,
    InvalidConfigError,
    ResetPeriod,
    TypedConfig,
    parse_config,
    repeated,
)

__all__ = [
    "FEATURE_CONFIGS",
    "BudgetConfig",
    "ContextCompressionConfig",
    "ContextTrimmingConfig",
    "CostAwareRoutingConfig",
    "FallbackConfig",
    "FeatureConfig",
    "HealthCheckConfig",
    "HedgingConfig",
    "McpToolsConfig",
    "PromptCachingConfig",
    "QualityGateConfig",
    "RateLimitConfig",
    "RequestCoalescingConfig",
    "ResponseCacheConfig",
    "ResponseFingerprintingConfig",
    "ResponsePrefetchConfig",
    "RetryConfig",
    "SemanticCacheConfig",
    "SemanticMemoryConfig",
    "StructuredOutputConfig",
    "TokenOptimizationConfig",
    "parse_feature_config",
]

_DAY = 86_400
Seconds = Annotated[int, msgspec.Meta(ge=1, le=30 * _DAY)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=600_000)]
Entries = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
Tokens = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
Requests = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Usd = Annotated[float, msgspec.Meta(ge=0.0, le=1e9)]
ErrorClasses = Annotated[tuple[ErrorClass, ...], msgspec.Meta(max_length=len(ERROR_CLASSES))]


class FeatureConfig(TypedConfig, frozen=True, kw_only=True):
    """Base of the feature configs."""


# -- features of the inference path -------------------------------------------------------


class ResponseCacheConfig(FeatureConfig, frozen=True, kw_only=True):
    """Exact-match cache of answers on the normalised request."""

    ttl_seconds: Seconds = 300
    max_entries: Entries = 10_000


class RetryConfig(FeatureConfig, frozen=True, kw_only=True):
    """Retry the same target on a retryable failure, with exponential backoff.

    `max_attempts` counts every attempt, the first included (1: never retry).
    """

    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    initial_backoff_ms: Millis = 200
    max_backoff_ms: Millis = 5_000
    retry_on: ErrorClasses = ERROR_CLASSES

    def problems(self) -> dict[str, list[str]]:
        """`maxBackoffMs` is a cap: never below `initialBackoffMs`; `retryOn` has no repeats."""
        if self.max_backoff_ms < self.initial_backoff_ms:
            return {"maxBackoffMs": ["must be at least initialBackoffMs"]}
        return repeated(self.retry_on, "retryOn")

    def backoff_ms(self, retry: int) -> int:
        """The wait before retry number `retry` (1 for the first retry), capped."""
        exponent = max(0, retry - 1)
        if exponent >= 32:
            return self.max_backoff_ms
        return min(self.max_backoff_ms, self.initial_backoff_ms << exponent)


class FallbackConfig(FeatureConfig, frozen=True, kw_only=True):
    """On a failure of a class in `on_errors`, try the router's next enabled target, in
    ascending `priority` order (also when a stream breaks before its first byte reached the
    client). `max_fallbacks` caps how many other targets are tried (None: all of them)."""

    on_errors: ErrorClasses = ERROR_CLASSES
    max_fallbacks: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None

    def problems(self) -> dict[str, list[str]]:
        """`onErrors` has no repeats."""
        return repeated(self.on_errors, "onErrors")


class RateLimitConfig(FeatureConfig, frozen=True, kw_only=True):
    """Requests per second and/or per minute for the whole router (both apply when both are
    set), as token buckets. `burst` is the bucket size; None: one second's worth of the
    steady rate, at least 1."""

    requests_per_second: Annotated[float, msgspec.Meta(gt=0.0, le=1e6)] | None = None
    requests_per_minute: Annotated[float, msgspec.Meta(gt=0.0, le=6e7)] | None = None
    burst: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None

    def problems(self) -> dict[str, list[str]]:
        """At least one rate is set."""
        if self.requests_per_second is None and self.requests_per_minute is None:
            return {"requestsPerSecond": ["set requestsPerSecond or requestsPerMinute"]}
        return {}

    @property
    def rate_per_second(self) -> float:
        """The steady rate allowed, per second: the stricter of the two limits."""
        rates = [
            rate
            for rate in (
                self.requests_per_second,
                None if self.requests_per_minute is None else self.requests_per_minute / 60.0,
            )
            if rate is not None
        ]
        return min(rates)

    @property
    def bucket_size(self) -> int:
        """How many requests may pass at once: `burst`, else one second's worth (>= 1)."""
        if self.burst is not None:
            return self.burst
        return max(1, math.ceil(self.rate_per_second))


class BudgetConfig(FeatureConfig, frozen=True, kw_only=True):
    """The router's own cap on requests and/or cost per period (reserved before a call,
    settled on the real usage after it). At least one cap is set; 0 blocks everything."""

    max_requests: Requests | None = None
    max_cost_usd: Usd | None = None
    reset_period: ResetPeriod = "monthly"

    def problems(self) -> dict[str, list[str]]:
        """A budget without a cap is a mistake."""
        if self.max_requests is None and self.max_cost_usd is None:
            return {"maxRequests": ["set maxRequests or maxCostUsd"]}
        return {}


class StructuredOutputConfig(FeatureConfig, frozen=True, kw_only=True):
    """Validate the answer against the requested JSON schema; `repair` asks the model once
    more (at most `max_repair_attempts` times) when it does not conform."""

    repair: bool = True
    max_repair_attempts: Annotated[int, msgspec.Meta(ge=0, le=1)] = 1


class HealthCheckConfig(FeatureConfig, frozen=True, kw_only=True):
    """Skip targets marked down (after `failure_threshold` consecutive failures of real
    requests or probes, or a down verdict of observability) until a check `recheck_seconds`
    later finds them healthy again. `probe`: `models` relies on observability's catalog-wide
    list-models probe; `chat` also sends each target a one-token chat every
    `recheck_seconds` from the router (it catches a model that lists but cannot answer)."""

    skip_unhealthy: bool = True
    recheck_seconds: Annotated[float, msgspec.Meta(gt=0.0, le=_DAY)] = 30.0
    failure_threshold: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    probe: Literal["models", "chat"] = "models"


# -- features accepted and stored now, implemented in a later issue -----------------------


class SemanticCacheConfig(FeatureConfig, frozen=True, kw_only=True):
    similarity_threshold: Fraction = 0.95
    ttl_seconds: Seconds = 3_600
    max_entries: Entries = 10_000
    embedding_registration_id: Id | None = None


class TokenOptimizationConfig(FeatureConfig, frozen=True, kw_only=True):
    max_output_tokens: Tokens | None = None
    strip_whitespace: bool = True


class ContextTrimmingConfig(FeatureConfig, frozen=True, kw_only=True):
    max_input_tokens: Tokens | None = None
    strategy: Literal["oldest_first", "middle_out"] = "oldest_first"
    keep_system: bool = True


class McpToolsConfig(FeatureConfig, frozen=True, kw_only=True):
    server_ids: Annotated[tuple[Id, ...], msgspec.Meta(max_length=100)] = ()
    max_tool_calls: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    tool_timeout_seconds: Annotated[float, msgspec.Meta(gt=0.0, le=600.0)] = 30.0

    def problems(self) -> dict[str, list[str]]:
        return repeated(self.server_ids, "serverIds")


class PromptCachingConfig(FeatureConfig, frozen=True, kw_only=True):
    min_prompt_tokens: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 1_024
    cache_system: bool = True
    cache_tools: bool = True


class RequestCoalescingConfig(FeatureConfig, frozen=True, kw_only=True):
    window_ms: Millis = 50
    max_waiters: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 100


class HedgingConfig(FeatureConfig, frozen=True, kw_only=True):
    delay_ms: Millis = 500
    max_hedges: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1


class QualityGateConfig(FeatureConfig, frozen=True, kw_only=True):
    min_score: Fraction = 0.5
    min_length: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 0
    evaluator_registration_id: Id | None = None
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=3)] = 1


class ContextCompressionConfig(FeatureConfig, frozen=True, kw_only=True):
    target_ratio: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.5
    min_tokens: Annotated[int, msgspec.Meta(ge=0, le=10_000_000)] = 2_000


class SemanticMemoryConfig(FeatureConfig, frozen=True, kw_only=True):
    top_k: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    similarity_threshold: Fraction = 0.8
    ttl_seconds: Seconds | None = None


class CostAwareRoutingConfig(FeatureConfig, frozen=True, kw_only=True):
    max_cost_per_request_usd: Usd | None = None
    quality_weight: Fraction = 0.5
    prefer_cheaper: bool = True


class ResponsePrefetchConfig(FeatureConfig, frozen=True, kw_only=True):
    max_prefetch: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    ttl_seconds: Seconds = 60


class ResponseFingerprintingConfig(FeatureConfig, frozen=True, kw_only=True):
    algorithm: Literal["sha256"] = "sha256"
    header_name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9-]{1,100}$")] = (
        "X-Response-Fingerprint"
    )


FEATURE_CONFIGS: Mapping[str, type[FeatureConfig]] = {
    "response_cache": ResponseCacheConfig,
    "semantic_cache": SemanticCacheConfig,
    "retry": RetryConfig,
    "fallback": FallbackConfig,
    "token_optimization": TokenOptimizationConfig,
    "context_trimming": ContextTrimmingConfig,
    "rate_limit": RateLimitConfig,
    "budget": BudgetConfig,
    "mcp_tools": McpToolsConfig,
    "health_check": HealthCheckConfig,
    "prompt_caching": PromptCachingConfig,
    "structured_output": StructuredOutputConfig,
    "request_coalescing": RequestCoalescingConfig,
    "hedging": HedgingConfig,
    "quality_gate": QualityGateConfig,
    "context_compression": ContextCompressionConfig,
    "semantic_memory": SemanticMemoryConfig,
    "cost_aware_routing": CostAwareRoutingConfig,
    "response_prefetch": ResponsePrefetchConfig,
    "response_fingerprinting": ResponseFingerprintingConfig,
}
"""The config Struct of every feature type of the contracts."""

assert set(FEATURE_CONFIGS) == set(FEATURE_TYPES), "a feature type without a config"


def parse_feature_config(feature_type: str, config: Mapping[str, Any] | None) -> FeatureConfig:
    """The typed config of a `feature_type` feature.

    Raises `InvalidConfigError` (a 400) naming the field: `type` for an unknown feature type,
    `config.<camelCaseField>` (e.g. `config.ttlSeconds`, `config.retryOn[1]`) for a bad value.
    """
    cls = FEATURE_CONFIGS.get(feature_type)
    if cls is None:
        message = f"unknown feature type {feature_type!r}"
        raise InvalidConfigError(message, {"type": [f"must be one of {', '.join(FEATURE_TYPES)}"]})
    return parse_config(cls, config)
