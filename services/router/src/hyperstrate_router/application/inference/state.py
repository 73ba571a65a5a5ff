"""Routers in memory, built from the ROUTER stream (replayed at start-up, then followed).

The hot path reads only this: no database call per request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from hyperstrate_contracts import Event
from hyperstrate_contracts.prompts import (
    PromptCreated,
    PromptDeleted,
    PromptRestored,
    PromptUpdated,
)
from hyperstrate_contracts.router import (
    RouterConfigured,
    RouterCreated,
    RouterDeleted,
    RouterFeatureRemoved,
    RouterFeatureSet,
    RouterInterceptorRemoved,
    RouterInterceptorSet,
    RouterTargetAdded,
    RouterTargetRemoved,
    RouterTargetUpdated,
    RouterUpdated,
)
from hyperstrate_router.domain.features import FeatureConfig, parse_feature_config
from hyperstrate_router.domain.typed_config import InvalidConfigError

__all__ = ["PromptTable", "RouterState", "RouterTable", "Target"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Target:
    """A registration a router may send to."""

    id: str
    registration_id: str
    weight: int = 1
    percentage: float = 0.0
    priority: int = 0
    enabled: bool = True


@dataclass(slots=True)
class RouterState:
    """One router as the pipeline needs it."""

    id: str
    org_id: str
    name: str
    strategy: str
    enabled: bool = True
    targets: dict[str, Target] = field(default_factory=dict)
    features: dict[str, FeatureConfig] = field(default_factory=dict)  # type -> typed config
    interceptors: dict[str, tuple[str, dict[str, Any], int]] = field(default_factory=dict)
    prompt_id: str | None = None
    store_payloads: bool = False
    webhook_url: str | None = None
    version: int = 0  # bumps on every change: caches keyed by it stay coherent

    def live_targets(self) -> list[Target]:
        """Enabled targets, by priority then id (a stable order for failover)."""
        return sorted(
            (t for t in self.targets.values() if t.enabled), key=lambda t: (t.priority, t.id)
        )


class RouterTable:
    """Every router, by id and by (org, name)."""

    def __init__(self) -> None:
        self.by_id: dict[str, RouterState] = {}
        self._by_name: dict[tuple[str, str], str] = {}

    def get(self, org_id: str, router_ref: str) -> RouterState | None:
        """A router of `org_id` by id or name (None for another org's)."""
        router = self.by_id.get(router_ref)
        if router is None:
            router_id = self._by_name.get((org_id, router_ref))
            router = self.by_id.get(router_id) if router_id else None
        return router if router is not None and router.org_id == org_id else None

    def of_org(self, org_id: str) -> list[RouterState]:
        """The organisation's routers."""
        return [r for r in self.by_id.values() if r.org_id == org_id]

    def apply(self, event: Event) -> None:
        """Update from one ROUTER event."""
        if isinstance(event, RouterCreated):
            self.by_id[event.aggregate_id] = RouterState(
                id=event.aggregate_id,
                org_id=event.org_id,
                name=event.name,
                strategy=event.strategy,
                enabled=event.enabled,
            )
            self._by_name[(event.org_id, event.name)] = event.aggregate_id
            return
        router = self.by_id.get(event.aggregate_id)
        if router is None or router.org_id != event.org_id:
            return
        router.version += 1
        match event:
            case RouterUpdated():
                self._by_name.pop((router.org_id, router.name), None)
                router.name, router.strategy, router.enabled = (
                    event.name,
                    event.strategy,
                    event.enabled,
                )
                self._by_name[(router.org_id, router.name)] = router.id
            case RouterDeleted():
                self._by_name.pop((router.org_id, router.name), None)
                del self.by_id[router.id]
            case RouterTargetAdded() | RouterTargetUpdated():
                router.targets[event.target_id] = Target(
                    id=event.target_id,
                    registration_id=event.registration_id,
                    weight=event.weight,
                    percentage=event.percentage,
                    priority=event.priority,
                    enabled=event.enabled,
                )
            case RouterTargetRemoved():
                router.targets.pop(event.target_id, None)
            case RouterFeatureSet():
                router.features.pop(event.feature_type, None)
                if event.enabled:
                    self._set_feature(router, event.feature_type, event.config)
            case RouterFeatureRemoved():
                router.features.pop(event.feature_type, None)
            case RouterInterceptorSet():
                router.interceptors[event.interceptor_id] = (
                    event.interceptor_type,
                    dict(event.config),
                    event.order,
                )
            case RouterInterceptorRemoved():
                router.interceptors.pop(event.interceptor_id, None)
            case RouterConfigured():
                router.prompt_id = event.prompt_id
                router.store_payloads = event.store_payloads
                router.webhook_url = event.webhook_url

    @staticmethod
    def _set_feature(router: RouterState, feature_type: str, config: dict[str, Any]) -> None:
        # Parsed once here, so requests read typed configs with the admin API's defaults.
        try:
            router.features[feature_type] = parse_feature_config(feature_type, config)
        except InvalidConfigError as exc:  # the admin API validated it; an old event may not
            log.warning("router %s: feature %s ignored: %s", router.id, feature_type, exc)


@dataclass(slots=True)
class Prompt:
    """The latest version of a prompt."""

    org_id: str
    text: str
    variables: tuple[str, ...]


class PromptTable:
    """Prompts by id, from the PROMPTS stream (the latest version only)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Prompt] = {}

    def get(self, org_id: str, prompt_id: str) -> Prompt | None:
        """The organisation's prompt."""
        prompt = self.by_id.get(prompt_id)
        return prompt if prompt is not None and prompt.org_id == org_id else None

    def apply(self, event: Event) -> None:
        """Update from one PROMPTS event."""
        if isinstance(event, PromptCreated | PromptUpdated | PromptRestored):
            self.by_id[event.aggregate_id] = Prompt(event.org_id, event.text, event.variables)
        elif isinstance(event, PromptDeleted):
            self.by_id.pop(event.aggregate_id, None)
