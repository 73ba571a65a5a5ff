"""INFERENCE stream events: one per inference call, from the router or the catalog.

Published off the response's critical path; observability logs them, aggregates usage and
cost, and fires webhooks. Payloads (request and response bodies) travel only when the
router's `storePayloads` is on, in `InferencePayloadCaptured`, never inside these events.
"""

from __future__ import annotations

from typing import Literal

from hyperstrate_contracts.events import Event, EventRegistry

__all__ = [
    "INFERENCE_EVENTS",
    "InferenceCompleted",
    "InferenceFailed",
    "InferencePayloadCaptured",
    "InferenceSource",
    "inference_registry",
]

InferenceSource = Literal["router", "catalog"]


class _InferenceFacts(Event, frozen=True, kw_only=True):
    """What every inference event says. `aggregate_id` is the request id."""

    source: InferenceSource = "router"
    request_id: str
    trace_id: str = ""
    router_id: str | None = None
    target_id: str | None = None
    registration_id: str | None = None
    provider: str = ""
    model: str = ""
    api_key_id: str | None = None
    virtual_key_id: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    stream: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    time_to_first_token_ms: float | None = None
    cache_hit: bool = False
    status_code: int = 200


class InferenceCompleted(_InferenceFacts, frozen=True, kw_only=True, tag="inference.completed"):
    """An inference answered (also a stream the client left early: billed for what ran)."""


class InferenceFailed(_InferenceFacts, frozen=True, kw_only=True, tag="inference.failed"):
    """An inference that failed after every retry and fallback."""

    error_class: str = (
        ""  # rate_limited | server_error | timeout | bad_request | auth | connection | ...
    )
    error_message: str = ""  # safe to show: never a secret


class InferencePayloadCaptured(Event, frozen=True, kw_only=True, tag="inference.payload.captured"):
    """The request and response bodies of one inference, when the router stores payloads.

    `request_body` is the request as the model got it (after the linked prompt and the
    request-side interceptors), `response_body` the answer as the client got it, a stream
    assembled into one body. Each is cut at the router's `PAYLOAD_MAX_BYTES` (UTF-8 bytes);
    a cut one is flagged.
    """

    request_id: str
    router_id: str | None = None
    request_body: str = ""
    response_body: str = ""
    request_truncated: bool = False
    response_truncated: bool = False


INFERENCE_EVENTS: tuple[type[Event], ...] = (
    InferenceCompleted,
    InferenceFailed,
    InferencePayloadCaptured,
)


def inference_registry() -> EventRegistry:
    """A registry of every INFERENCE event."""
    return EventRegistry(INFERENCE_EVENTS)
