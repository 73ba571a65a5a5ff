"""Interceptor configs: typed, canonical, with the targets they name."""

from __future__ import annotations

from typing import Any

import pytest

from hyperstrate_contracts.router import INTERCEPTOR_TYPES
from hyperstrate_router.domain import (
    INTERCEPTOR_CONFIGS,
    InvalidConfigError,
    config_to_dict,
    parse_interceptor_config,
)
from hyperstrate_router.domain.interceptors import AbTestConfig, ContentFilterConfig

MINIMAL: dict[str, dict[str, Any]] = {
    "ab_test": {"variants": [{"name": "a", "targetId": "tgt_1"}]},
    "team_budget": {"maxRequests": 100},
}


def test_every_interceptor_type_has_a_config() -> None:
    assert set(INTERCEPTOR_CONFIGS) == set(INTERCEPTOR_TYPES)


@pytest.mark.parametrize("interceptor_type", INTERCEPTOR_TYPES)
def test_canonical_configs_parse_back_to_the_same_config(interceptor_type: str) -> None:
    config = parse_interceptor_config(interceptor_type, MINIMAL.get(interceptor_type, {}))
    assert parse_interceptor_config(interceptor_type, config_to_dict(config)) == config


def test_content_filter_defaults() -> None:
    assert parse_interceptor_config("content_filter", {"blockedTerms": ["x"]}) == (
        ContentFilterConfig(blocked_terms=("x",), action="block", apply_to="request")
    )


def test_configs_say_which_targets_they_name() -> None:
    ab_test = parse_interceptor_config(
        "ab_test",
        {
            "variants": [
                {"name": "a", "targetId": "tgt_a", "weight": 3},
                {"name": "b", "targetId": "tgt_b", "weight": 0},
            ]
        },
    )
    assert isinstance(ab_test, AbTestConfig)
    assert ab_test.target_references() == {
        "variants[0].targetId": "tgt_a",
        "variants[1].targetId": "tgt_b",
    }
    classifier = parse_interceptor_config(
        "semantic_classifier",
        {
            "categories": [{"name": "billing", "targetId": "tgt_c"}, {"name": "other"}],
            "defaultTargetId": "tgt_d",
        },
    )
    assert classifier.target_references() == {
        "categories[0].targetId": "tgt_c",
        "defaultTargetId": "tgt_d",
    }
    assert parse_interceptor_config("pii_detector", {}).target_references() == {}


@pytest.mark.parametrize(
    ("interceptor_type", "config", "field"),
    [
        ("firewall", {}, "type"),
        ("ab_test", {"variants": [{"name": "a", "targetId": "t"}] * 2}, "config.variants[1]"),
        (
            "semantic_classifier",
            {"categories": [{"name": "x"}, {"name": "x"}]},
            "config.categories[1]",
        ),
        ("pii_detector", {"entities": ["email", "email"]}, "config.entities[1]"),
        ("prompt_shield", {"blockedPatterns": ["[a-"]}, "config.blockedPatterns[0]"),
        ("team_budget", {"maxRequests": 1, "teamIds": ["t", "t"]}, "config.teamIds[1]"),
        ("content_filter", {"blockedTerms": ["x" * 201]}, "config.blockedTerms[0]"),
    ],
)
def test_bad_configs_name_the_field(interceptor_type: str, config: Any, field: str) -> None:
    with pytest.raises(InvalidConfigError) as raised:
        parse_interceptor_config(interceptor_type, config)
    assert field in raised.value.fields, raised.value.fields
