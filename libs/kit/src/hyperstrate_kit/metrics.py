"""Prometheus metrics the kit records in every service (served at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "CONSUMER_HANDLED",
    "CONSUMER_LAG",
    "HTTP_REQUESTS",
    "RELAY_LAG",
    "RELAY_PUBLISHED",
]

_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

HTTP_REQUESTS = Histogram(
    "hyperstrate_http_request_duration_seconds",
    "HTTP request duration by route and status",
    ("method", "route", "status"),
)
RELAY_PUBLISHED = Counter(
    "hyperstrate_relay_published_total", "Events the outbox relay published to JetStream"
)
RELAY_LAG = Histogram(
    "hyperstrate_relay_lag_seconds",
    "Time from an event's commit to its publication on JetStream",
    buckets=_LAG_BUCKETS,
)
CONSUMER_HANDLED = Counter(
    "hyperstrate_consumer_messages_total",
    "Messages handled by durable consumers, by outcome",
    ("consumer", "outcome"),
)
CONSUMER_LAG = Histogram(
    "hyperstrate_consumer_lag_seconds",
    "Time from an event's occurrence to its handling by a consumer",
    ("consumer",),
    buckets=_LAG_BUCKETS,
)
