"""ROUTER stream events (routers, targets, features, interceptors, configuration) and the
gateway -> router inference hop over NATS request/reply.

`aggregate_id` of every ROUTER event is the router id. Feature and interceptor configs travel
as JSON objects: the router service validates them into typed configs when they are set, and
its in-memory projection parses them again on the way in.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from hyperstrate_contracts.events import Event, EventRegistry

__all__ = [
    "CANCEL_SUBJECT_PREFIX",
    "FEATURE_TYPES",
    "INFER_QUEUE",
    "INFER_SUBJECT",
    "INTERCEPTOR_TYPES",
    "LIVENESS_HEADER",
    "LIVENESS_INTERVAL_SECS",
    "ROUTER_EVENTS",
    "STRATEGIES",
    "Caller",
    "InferEnd",
    "InferRequest",
    "RouterConfigured",
    "RouterCreated",
    "RouterDeleted",
    "RouterFeatureRemoved",
    "RouterFeatureSet",
    "RouterInterceptorRemoved",
    "RouterInterceptorSet",
    "RouterTargetAdded",
    "RouterTargetRemoved",
    "RouterTargetUpdated",
    "RouterUpdated",
    "Strategy",
    "router_registry",
]

Strategy = Literal["round_robin", "weighted", "percentage", "failover", "random", "latency_based"]
STRATEGIES: tuple[str, ...] = Strategy.__args__  # type: ignore[attr-defined]

FeatureType = Literal[
    "response_cache", "semantic_cache", "retry", "fallback", "token_optimization",
    "context_trimming", "rate_limit", "budget", "mcp_tools", "health_check", "prompt_caching",
    "structured_output", "request_coalescing", "hedging", "quality_gate", "context_compression",
    "semantic_memory", "cost_aware_routing", "response_prefetch", "response_fingerprinting",
]  # fmt: skip
FEATURE_TYPES: tuple[str, ...] = FeatureType.__args__  # type: ignore[attr-defined]

InterceptorType = Literal[
    "semantic_classifier", "content_filter", "pii_detector", "prompt_guard", "ab_test",
    "prompt_shield", "team_budget",
]  # fmt: skip
INTERCEPTOR_TYPES: tuple[str, ...] = InterceptorType.__args__  # type: ignore[attr-defined]


class RouterCreated(Event, frozen=True, kw_only=True, tag="router.router.created"):
    name: str
    description: str = ""
    strategy: Strategy = "round_robin"
    enabled: bool = True


class RouterUpdated(Event, frozen=True, kw_only=True, tag="router.router.updated"):
    name: str
    description: str = ""
    strategy: Strategy = "round_robin"
    enabled: bool = True


class RouterDeleted(Event, frozen=True, kw_only=True, tag="router.router.deleted"):
    pass


class _TargetFacts(Event, frozen=True, kw_only=True):
    target_id: str
    registration_id: str
    weight: int = 1
    percentage: float = 0.0
    priority: int = 0
    enabled: bool = True


class RouterTargetAdded(_TargetFacts, frozen=True, kw_only=True, tag="router.target.added"):
    """A model registration the router may send to."""


class RouterTargetUpdated(_TargetFacts, frozen=True, kw_only=True, tag="router.target.updated"):
    pass


class RouterTargetRemoved(Event, frozen=True, kw_only=True, tag="router.target.removed"):
    target_id: str


class RouterFeatureSet(Event, frozen=True, kw_only=True, tag="router.feature.set"):
    """A pipeline feature added or changed (one per type per router)."""

    feature_id: str
    feature_type: FeatureType
    config: dict[str, Any] = {}
    enabled: bool = True


class RouterFeatureRemoved(Event, frozen=True, kw_only=True, tag="router.feature.removed"):
    feature_id: str
    feature_type: FeatureType


class RouterInterceptorSet(Event, frozen=True, kw_only=True, tag="router.interceptor.set"):
    interceptor_id: str
    interceptor_type: InterceptorType
    config: dict[str, Any] = {}
    enabled: bool = True
    order: int = 0


class RouterInterceptorRemoved(Event, frozen=True, kw_only=True, tag="router.interceptor.removed"):
    interceptor_id: str


class RouterConfigured(Event, frozen=True, kw_only=True, tag="router.configuration.updated"):
    """The router's 1:1 configuration: webhook, linked prompt, payload storage."""

    webhook_url: str | None = None
    prompt_id: str | None = None
    store_payloads: bool = False


ROUTER_EVENTS: tuple[type[Event], ...] = (
    RouterCreated, RouterUpdated, RouterDeleted,
    RouterTargetAdded, RouterTargetUpdated, RouterTargetRemoved,
    RouterFeatureSet, RouterFeatureRemoved,
    RouterInterceptorSet, RouterInterceptorRemoved,
    RouterConfigured,
)  # fmt: skip


def router_registry() -> EventRegistry:
    """A registry of every ROUTER event."""
    return EventRegistry(ROUTER_EVENTS)


# -- the inference hop: gateway -> router ------------------------------------------------------

INFER_SUBJECT = "svc.router.infer"
INFER_QUEUE = "router"
#: + request id: the client went away; every router replica listens, the one serving it stops.
CANCEL_SUBJECT_PREFIX = "svc.router.cancel."
#: Header of the router's "still working" message to a reply inbox (empty body): sent while
#: an answer runs, after LIVENESS_INTERVAL_SECS without any other message to that inbox, so a
#: quick answer never carries one. The gateway takes a longer silence for a router gone.
LIVENESS_HEADER = "Hs-Live"
LIVENESS_INTERVAL_SECS = 1.0
#: JetStream object store for bodies larger than a NATS message; messages carry their name.
PAYLOAD_BUCKET = "inference-payloads"


class Caller(msgspec.Struct, frozen=True, kw_only=True):
    """Who the gateway authenticated (never the key itself)."""

    org_id: str
    kind: Literal["api_key", "virtual_key", "session"]
    key_id: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    max_requests: int | None = None
    max_cost_usd: float | None = None
    reset_period: str | None = None
    team_max_requests: int | None = None
    team_max_cost_usd: float | None = None


class InferRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One inference: the client's body as sent, in the API it speaks."""

    request_id: str
    router_id: str
    api: Literal["openai", "anthropic"]
    caller: Caller
    body: msgspec.Raw  # the client's JSON, untouched (`null` when `body_ref` is set)
    trace_id: str = ""
    body_ref: str = ""  # name of the body in PAYLOAD_BUCKET when it did not fit a message


class InferEnd(msgspec.Struct, frozen=True, kw_only=True):
    """The last message of an answer: status and, for non-streaming answers, the body.

    Streaming answers arrive first as numbered chunk messages (header `Hs-Seq`), each one
    SSE frame ready for the client, then this message (header `Hs-End: 1`). Between them, or
    before the first, a long answer carries liveness messages (LIVENESS_HEADER).
    """

    status: int
    body: msgspec.Raw = msgspec.Raw(b"null")
    content_type: str = "application/json"
    retry_after: float | None = None
    chunks: int = 0
    body_ref: str = ""  # as for InferRequest: a body too large for one message
