"""The typed config of every interceptor type, and `parse_interceptor_config`.

Interceptors look at (and may block or rewrite) a request before it reaches a target, in
ascending `order`. Their configs are typed and validated like features' (camelCase keys,
unknown keys rejected, canonical form in events); the interceptors themselves run in a later
issue. Configs that name targets of the router say so in `target_references`, so the
application can check that the targets exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec

from hyperstrate_contracts.router import INTERCEPTOR_TYPES
from hyperstrate_router.domain.typed_config import (
    Fraction,
    Id,
    InvalidConfigError,
    Name,
    ResetPeriod,
    Text,
    TypedConfig,
    parse_config,
    repeated,
)

__all__ = [
    "INTERCEPTOR_CONFIGS",
    "AbTestConfig",
    "AbTestVariant",
    "ClassifierCategory",
    "ContentFilterConfig",
    "InterceptorConfig",
    "PiiDetectorConfig",
    "PromptGuardConfig",
    "PromptShieldConfig",
    "SemanticClassifierConfig",
    "TeamBudgetConfig",
    "parse_interceptor_config",
]

Term = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Pattern = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"^[^\x00]*$")]
ApplyTo = Literal["request", "response", "both"]
Sensitivity = Literal["low", "medium", "high"]
PiiEntity = Literal[
    "email", "phone", "credit_card", "ssn", "ip_address", "iban", "api_key", "person_name",
]  # fmt: skip
PII_ENTITIES: tuple[PiiEntity, ...] = PiiEntity.__args__  # type: ignore[attr-defined]


class InterceptorConfig(TypedConfig, frozen=True, kw_only=True):
    """Base of the interceptor configs."""

    def target_references(self) -> dict[str, str]:
        """Target ids this config names, by camelCase field path."""
        return {}


class ClassifierCategory(TypedConfig, frozen=True, kw_only=True):
    """A category a request may fall in, and the target it then goes to (None: unchanged)."""

    name: Name
    description: Text = ""
    examples: Annotated[tuple[Text, ...], msgspec.Meta(max_length=50)] = ()
    target_id: Id | None = None


class SemanticClassifierConfig(InterceptorConfig, frozen=True, kw_only=True):
    categories: Annotated[tuple[ClassifierCategory, ...], msgspec.Meta(max_length=100)] = ()
    threshold: Fraction = 0.7
    default_target_id: Id | None = None

    def problems(self) -> dict[str, list[str]]:
        return repeated(tuple(c.name for c in self.categories), "categories")

    def target_references(self) -> dict[str, str]:
        references = {
            f"categories[{index}].targetId": category.target_id
            for index, category in enumerate(self.categories)
            if category.target_id is not None
        }
        if self.default_target_id is not None:
            references["defaultTargetId"] = self.default_target_id
        return references


class ContentFilterConfig(InterceptorConfig, frozen=True, kw_only=True):
    """Block, or redact, messages containing any of `blocked_terms`."""

    blocked_terms: Annotated[tuple[Term, ...], msgspec.Meta(max_length=1_000)] = ()
    action: Literal["block", "redact"] = "block"
    case_sensitive: bool = False
    apply_to: ApplyTo = "request"
    replacement: Annotated[str, msgspec.Meta(max_length=100, pattern=r"^[^\x00]*$")] = "[REDACTED]"


class PiiDetectorConfig(InterceptorConfig, frozen=True, kw_only=True):
    """Find personal data of the listed kinds; block, redact or only log it."""

    entities: Annotated[tuple[PiiEntity, ...], msgspec.Meta(max_length=len(PII_ENTITIES))] = (
        PII_ENTITIES
    )
    action: Literal["block", "redact", "log"] = "redact"
    apply_to: ApplyTo = "request"

    def problems(self) -> dict[str, list[str]]:
        return repeated(self.entities, "entities")


def _bad_patterns(patterns: tuple[str, ...], field: str) -> dict[str, list[str]]:
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            return {f"{field}[{index}]": [f"not a valid regular expression: {exc}"]}
    return {}


class PromptGuardConfig(InterceptorConfig, frozen=True, kw_only=True):
    """Detect prompt injection and jailbreak attempts in the caller's messages."""

    action: Literal["block", "log"] = "block"
    sensitivity: Sensitivity = "medium"
    blocked_patterns: Annotated[tuple[Pattern, ...], msgspec.Meta(max_length=100)] = ()

    def problems(self) -> dict[str, list[str]]:
        return _bad_patterns(self.blocked_patterns, "blockedPatterns")


class PromptShieldConfig(InterceptorConfig, frozen=True, kw_only=True):
    """Detect indirect injection in documents and tool results passed to the model."""

    action: Literal["block", "log"] = "block"
    sensitivity: Sensitivity = "medium"
    scan_tool_results: bool = True
    blocked_patterns: Annotated[tuple[Pattern, ...], msgspec.Meta(max_length=100)] = ()

    def problems(self) -> dict[str, list[str]]:
        return _bad_patterns(self.blocked_patterns, "blockedPatterns")


class AbTestVariant(TypedConfig, frozen=True, kw_only=True):
    """A share of traffic (`weight` relative to the others) sent to one target."""

    name: Name
    target_id: Id
    weight: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 1


class AbTestConfig(InterceptorConfig, frozen=True, kw_only=True):
    """Split traffic between targets by weight; `sticky`: one caller keeps one variant."""

    variants: Annotated[tuple[AbTestVariant, ...], msgspec.Meta(min_length=1, max_length=20)]
    sticky: bool = False

    def problems(self) -> dict[str, list[str]]:
        if not any(variant.weight for variant in self.variants):
            return {"variants": ["at least one variant needs a weight above 0"]}
        return repeated(tuple(v.name for v in self.variants), "variants")

    def target_references(self) -> dict[str, str]:
        return {
            f"variants[{index}].targetId": variant.target_id
            for index, variant in enumerate(self.variants)
        }


class TeamBudgetConfig(InterceptorConfig, frozen=True, kw_only=True):
    """A cap per team for calls through this router (`team_ids` empty: every team)."""

    max_requests: Annotated[int, msgspec.Meta(ge=0, le=10**12)] | None = None
    max_cost_usd: Annotated[float, msgspec.Meta(ge=0.0, le=1e9)] | None = None
    reset_period: ResetPeriod = "monthly"
    team_ids: Annotated[tuple[Id, ...], msgspec.Meta(max_length=1_000)] = ()

    def problems(self) -> dict[str, list[str]]:
        if self.max_requests is None and self.max_cost_usd is None:
            return {"maxRequests": ["set maxRequests or maxCostUsd"]}
        return repeated(self.team_ids, "teamIds")


INTERCEPTOR_CONFIGS: Mapping[str, type[InterceptorConfig]] = {
    "semantic_classifier": SemanticClassifierConfig,
    "content_filter": ContentFilterConfig,
    "pii_detector": PiiDetectorConfig,
    "prompt_guard": PromptGuardConfig,
    "ab_test": AbTestConfig,
    "prompt_shield": PromptShieldConfig,
    "team_budget": TeamBudgetConfig,
}
"""The config Struct of every interceptor type of the contracts."""

assert set(INTERCEPTOR_CONFIGS) == set(INTERCEPTOR_TYPES), "an interceptor type without a config"


def parse_interceptor_config(
    interceptor_type: str, config: Mapping[str, Any] | None
) -> InterceptorConfig:
    """The typed config of an `interceptor_type` interceptor.

    Raises `InvalidConfigError` (a 400) naming the field: `type` for an unknown type,
    `config.<camelCaseField>` for a bad value.
    """
    cls = INTERCEPTOR_CONFIGS.get(interceptor_type)
    if cls is None:
        message = f"unknown interceptor type {interceptor_type!r}"
        raise InvalidConfigError(
            message, {"type": [f"must be one of {', '.join(INTERCEPTOR_TYPES)}"]}
        )
    return parse_config(cls, config)
