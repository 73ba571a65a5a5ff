"""Prometheus metrics of inference, from the logged events (served at /metrics).

Names follow the OpenTelemetry GenAI semantic conventions as exported to Prometheus
(`gen_ai.client.operation.duration` -> `gen_ai_client_operation_duration_seconds`, ...),
with the same attributes (`gen_ai_operation_name`, `gen_ai_provider_name`,
`gen_ai_request_model`, `gen_ai_token_type`, `error_type`) plus the gateway's own
(`router_id`, `target_id`). Counters the conventions do not define (requests, cost, cache
hits) carry the `hyperstrate_inference_` prefix. Only events logged for the first time are
counted, so a redelivered event is never counted twice; with several replicas, sum them.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed

__all__ = [
    "CACHE_HITS",
    "COST",
    "LOG_BATCHES",
    "LOG_LAG",
    "OPERATION_DURATION",
    "REGISTRATION_HEALTHY",
    "REQUESTS",
    "TIME_TO_FIRST_TOKEN",
    "TOKEN_USAGE",
    "WEBHOOK_DELIVERIES",
    "record_inferences",
]

_GEN_AI = ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model")
_OURS = ("router_id", "target_id")

# Bucket boundaries the GenAI conventions recommend.
_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                     40.96, 81.92)  # fmt: skip
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864)  # fmt: skip
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                 5.0, 7.5, 10.0)  # fmt: skip

OPERATION_DURATION = Histogram(
    "gen_ai_client_operation_duration_seconds",
    "GenAI operation duration (gen_ai.client.operation.duration), as the router saw it",
    (*_GEN_AI, "error_type", *_OURS),
    buckets=_DURATION_BUCKETS,
)
TOKEN_USAGE = Histogram(
    "gen_ai_client_token_usage",
    "Tokens per GenAI operation (gen_ai.client.token.usage), by gen_ai_token_type",
    (*_GEN_AI, "gen_ai_token_type", *_OURS),
    buckets=_TOKEN_BUCKETS,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "gen_ai_server_time_to_first_token_seconds",
    "Time to the first token of streamed responses (gen_ai.server.time_to_first_token)",
    (*_GEN_AI, *_OURS),
    buckets=_TTFT_BUCKETS,
)
REQUESTS = Counter(
    "hyperstrate_inference_requests_total",
    "Inference requests logged, by router, target, model, provider and status",
    ("router_id", "target_id", "model", "provider", "status"),
)
COST = Counter(
    "hyperstrate_inference_cost_usd_total",
    "Inference cost in USD",
    ("router_id", "target_id", "model", "provider"),
)
CACHE_HITS = Counter(
    "hyperstrate_inference_cache_hits_total",
    "Inference requests answered from the router's cache",
    ("router_id", "target_id", "model", "provider"),
)
LOG_BATCHES = Histogram(
    "hyperstrate_observability_log_batch_size",
    "Inference events written per transaction",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
LOG_LAG = Histogram(
    "hyperstrate_observability_log_lag_seconds",
    "Time from an inference event's occurrence to its log being committed",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
WEBHOOK_DELIVERIES = Counter(
    "hyperstrate_webhook_deliveries_total",
    "Webhook delivery attempts by outcome (delivered, retried, dead)",
    ("outcome",),
)
REGISTRATION_HEALTHY = Gauge(
    "hyperstrate_registration_healthy",
    "1 when the registration's provider answers its health probe, 0 when not",
    ("registration_id", "provider", "model"),
)


def record_inferences(events: Iterable[InferenceCompleted | InferenceFailed]) -> None:
    """Count newly logged inferences."""
    for event in events:
        failed = isinstance(event, InferenceFailed)
        router, target = event.router_id or "", event.target_id or ""
        gen_ai = ("chat", event.provider, event.model)
        error_type = (event.error_class or "error") if isinstance(event, InferenceFailed) else ""
        OPERATION_DURATION.labels(*gen_ai, error_type, router, target).observe(
            event.latency_ms / 1000
        )
        for token_type, count in (("input", event.input_tokens), ("output", event.output_tokens)):
            if count:
                TOKEN_USAGE.labels(*gen_ai, token_type, router, target).observe(count)
        if event.time_to_first_token_ms is not None:
            TIME_TO_FIRST_TOKEN.labels(*gen_ai, router, target).observe(
                event.time_to_first_token_ms / 1000
            )
        dims = (router, target, event.model, event.provider)
        REQUESTS.labels(*dims, "failed" if failed else "completed").inc()
        if event.cost_usd:
            COST.labels(*dims).inc(event.cost_usd)
        if event.cache_hit:
            CACHE_HITS.labels(*dims).inc()
