"""Aggregates, value objects, domain events and errors: pure Python, no I/O."""

from hyperstrate_router.domain.features import (
    FEATURE_CONFIGS,
    FeatureConfig,
    parse_feature_config,
)
from hyperstrate_router.domain.interceptors import (
    INTERCEPTOR_CONFIGS,
    InterceptorConfig,
    parse_interceptor_config,
)
from hyperstrate_router.domain.typed_config import InvalidConfigError, config_to_dict

__all__ = [
    "FEATURE_CONFIGS",
    "INTERCEPTOR_CONFIGS",
    "FeatureConfig",
    "InterceptorConfig",
    "InvalidConfigError",
    "config_to_dict",
    "parse_feature_config",
    "parse_interceptor_config",
]
