"""Tables of the observability service (the event store is the kit's)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "PROJECTION_TABLES",
    "audit_log",
    "health_checks",
    "inference_logs",
    "inference_payloads",
    "metadata",
    "registration_health",
    "usage_daily",
    "webhook_deliveries",
    "webhook_secrets",
    "webhooks",
]

metadata = MetaData()

Money = Numeric(20, 10)  # sums of many tiny costs stay exact


def _now() -> Column[object]:
    return Column("logged_at", DateTime(timezone=True), nullable=False, server_default=func.now())


inference_logs = Table(
    "inference_logs",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("status", Text, nullable=False),  # completed | failed
    Column("source", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("trace_id", Text, nullable=False),
    Column("router_id", Text),
    Column("target_id", Text),
    Column("registration_id", Text),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("api_key_id", Text),
    Column("virtual_key_id", Text),
    Column("user_id", Text),
    Column("team_id", Text),
    Column("stream", Boolean, nullable=False),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("cost_usd", Money, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("time_to_first_token_ms", Float),
    Column("cache_hit", Boolean, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("error_class", Text, nullable=False),
    Column("error_message", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    _now(),
    Index("ix_inference_logs_org_time", "org_id", text("occurred_at DESC"), "event_id"),
    Index("ix_inference_logs_org_router_time", "org_id", "router_id", text("occurred_at DESC")),
    Index("ix_inference_logs_org_request", "org_id", "request_id"),
    Index("ix_inference_logs_time", "occurred_at"),
)

inference_payloads = Table(
    "inference_payloads",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("request_id", Text, nullable=False),
    Column("router_id", Text),
    Column("request_body", Text, nullable=False),
    Column("response_body", Text, nullable=False),
    # The router cut the body at its PAYLOAD_MAX_BYTES.
    Column("request_truncated", Boolean, nullable=False, server_default=text("false")),
    Column("response_truncated", Boolean, nullable=False, server_default=text("false")),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    _now(),
    Index("ix_inference_payloads_org_request", "org_id", "request_id"),
    Index("ix_inference_payloads_time", "occurred_at"),
)

usage_daily = Table(
    "usage_daily",
    metadata,
    Column("org_id", Text, primary_key=True),
    Column("day", Date, primary_key=True),
    # "" stands for "none" in the key columns (NULLs would never conflict).
    Column("router_id", Text, primary_key=True),
    Column("provider", Text, primary_key=True),
    Column("model", Text, primary_key=True),
    Column("api_key_id", Text, primary_key=True),
    Column("virtual_key_id", Text, primary_key=True),
    Column("team_id", Text, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    Column("failed_requests", BigInteger, nullable=False),
    Column("billed_requests", BigInteger, nullable=False, server_default="0"),
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cached_input_tokens", BigInteger, nullable=False),
    Column("reasoning_tokens", BigInteger, nullable=False),
    Column("cost_usd", Money, nullable=False),
    Column("cache_hits", BigInteger, nullable=False),
    Column("latency_ms_sum", Float, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("aggregate_type", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("aggregate_id", Text, nullable=False),
    Column("actor_id", Text),
    Column("actor_kind", Text),
    Column("data", JSONB, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_audit_log_org_time", "org_id", text("occurred_at DESC"), "event_id"),
    Index("ix_audit_log_time", "occurred_at"),
    Index("ix_audit_log_org_actor", "org_id", "actor_id", text("occurred_at DESC")),
)

registration_health = Table(
    "registration_health",
    metadata,
    Column("registration_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("healthy", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("consecutive_failures", Integer, nullable=False),
    Column("latency_ms", Float),
    Column("last_checked_at", DateTime(timezone=True), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_registration_health_org", "org_id"),
)

health_checks = Table(
    "health_checks",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("registration_id", Text, nullable=False),
    Column("org_id", Text, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("latency_ms", Float),
    Column("error", Text, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    Index("ix_health_checks_registration_time", "registration_id", text("checked_at DESC")),
    Index("ix_health_checks_time", "checked_at"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("router_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("event_types", JSONB, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_by", Text),
    Column("managed_by", Text, nullable=False, server_default="api"),  # api | router
    Column("stream_version", Integer, nullable=False),
    Column("secret_rotated_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhooks_org_router", "org_id", "router_id"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("webhook_id", Text, primary_key=True),
    Column("secret_ciphertext", Text, nullable=False),  # SecretBox, bound to the webhook id
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("webhook_id", Text, nullable=False),
    Column("org_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("payload", Text, nullable=False),  # the event's JSON, as published
    Column("status", Text, nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    UniqueConstraint("webhook_id", "event_id", name="webhook_deliveries_once"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", text("id DESC")),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_webhook_deliveries_created", "created_at"),
)

#: Tables rebuilt from the event store (`python -m hyperstrate_observability rebuild`).
PROJECTION_TABLES = (webhooks,)
