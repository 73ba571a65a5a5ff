"""OBSERVABILITY stream events: registration health changes and webhook subscriptions.

Health: the observability service probes every model registration through its provider
every `HEALTH_CHECK_INTERVAL_SECS` and publishes `RegistrationHealthChanged` when a
registration becomes healthy or unhealthy (and the first time it is probed). The router's
`health_check` feature takes an unhealthy one as an open circuit breaker on the
registration's targets, re-checked after the router's own `recheckSeconds`; a registration
it has no event for is healthy.

Webhooks: a router's inference events can be delivered to a URL, signed with a per-webhook
secret. A subscription is made through the observability API, or follows the router's own
`webhookUrl` setting (`managed_by="router"`). The subscription events carry no secret, not
even encrypted. Who made a change travels in the event's headers (`Hs-Actor-Kind`,
`Hs-Actor-Id`); `actor_id` is set only on events recorded before that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from hyperstrate_contracts.events import Event, EventRegistry

__all__ = [
    "OBSERVABILITY_EVENTS",
    "WEBHOOK_EVENT_TYPES",
    "RegistrationHealthChanged",
    "WebhookCreated",
    "WebhookDeleted",
    "WebhookSecretRotated",
    "WebhookUpdated",
    "observability_registry",
]

#: The inference event types a webhook can subscribe to.
WEBHOOK_EVENT_TYPES: tuple[str, ...] = ("inference.completed", "inference.failed")


class RegistrationHealthChanged(
    Event, frozen=True, kw_only=True, tag="observability.registration_health.changed"
):
    """A registration's health as the latest probes see it. `aggregate_id` is the
    registration id; `reason` says why it is unhealthy (empty when healthy)."""

    registration_id: str
    healthy: bool
    reason: str = ""
    provider: str = ""
    model: str = ""
    latency_ms: float | None = None
    checked_at: datetime


class WebhookCreated(Event, frozen=True, kw_only=True, tag="observability.webhook.created"):
    """Deliver a router's inference events to `url`. `aggregate_id` is the webhook id."""

    router_id: str
    url: str
    event_types: tuple[str, ...] = WEBHOOK_EVENT_TYPES
    enabled: bool = True
    actor_id: str | None = None
    #: "router": made from the router's `webhookUrl`, and changed or removed with it.
    managed_by: Literal["api", "router"] = "api"


class WebhookUpdated(Event, frozen=True, kw_only=True, tag="observability.webhook.updated"):
    """The webhook's current URL, event types and switch."""

    url: str
    event_types: tuple[str, ...] = WEBHOOK_EVENT_TYPES
    enabled: bool = True
    actor_id: str | None = None


class WebhookSecretRotated(
    Event, frozen=True, kw_only=True, tag="observability.webhook.secret_rotated"
):
    """The signing secret was replaced (the new one was shown once to its admin)."""

    actor_id: str | None = None


class WebhookDeleted(Event, frozen=True, kw_only=True, tag="observability.webhook.deleted"):
    actor_id: str | None = None


OBSERVABILITY_EVENTS: tuple[type[Event], ...] = (
    RegistrationHealthChanged,
    WebhookCreated,
    WebhookUpdated,
    WebhookSecretRotated,
    WebhookDeleted,
)


def observability_registry() -> EventRegistry:
    """A registry of every OBSERVABILITY event."""
    return EventRegistry(OBSERVABILITY_EVENTS)
