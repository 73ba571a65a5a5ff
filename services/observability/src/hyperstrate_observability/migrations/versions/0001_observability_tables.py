"""Inference logs and payloads, daily usage, audit log, registration health, webhooks.

Revision ID: observability_0001
Revises:
"""

from alembic import op

revision = "observability_0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """
CREATE TABLE audit_log (
    event_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    type TEXT NOT NULL,
    service TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    action TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    actor_id TEXT,
    data JSONB NOT NULL,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    recorded_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (event_id)
)
    """,
    """
CREATE INDEX ix_audit_log_org_time ON audit_log (org_id, occurred_at DESC, event_id)
    """,
    """
CREATE INDEX ix_audit_log_time ON audit_log (occurred_at)
    """,
    """
CREATE TABLE health_checks (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    registration_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    latency_ms FLOAT,
    error TEXT NOT NULL,
    checked_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_health_checks_registration_time ON health_checks (registration_id, checked_at DESC)
    """,
    """
CREATE INDEX ix_health_checks_time ON health_checks (checked_at)
    """,
    """
CREATE TABLE inference_logs (
    event_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    request_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    router_id TEXT,
    target_id TEXT,
    registration_id TEXT,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    api_key_id TEXT,
    virtual_key_id TEXT,
    user_id TEXT,
    team_id TEXT,
    stream BOOLEAN NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_usd NUMERIC(20, 10) NOT NULL,
    latency_ms FLOAT NOT NULL,
    time_to_first_token_ms FLOAT,
    cache_hit BOOLEAN NOT NULL,
    status_code INTEGER NOT NULL,
    error_class TEXT NOT NULL,
    error_message TEXT NOT NULL,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    logged_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (event_id)
)
    """,
    """
CREATE INDEX ix_inference_logs_org_request ON inference_logs (org_id, request_id)
    """,
    """
CREATE INDEX ix_inference_logs_org_router_time
    ON inference_logs (org_id, router_id, occurred_at DESC)
    """,
    """
CREATE INDEX ix_inference_logs_org_time ON inference_logs (org_id, occurred_at DESC, event_id)
    """,
    """
CREATE INDEX ix_inference_logs_time ON inference_logs (occurred_at)
    """,
    """
CREATE TABLE inference_payloads (
    event_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    router_id TEXT,
    request_body TEXT NOT NULL,
    response_body TEXT NOT NULL,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    logged_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (event_id)
)
    """,
    """
CREATE INDEX ix_inference_payloads_org_request ON inference_payloads (org_id, request_id)
    """,
    """
CREATE INDEX ix_inference_payloads_time ON inference_payloads (occurred_at)
    """,
    """
CREATE TABLE registration_health (
    registration_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    healthy BOOLEAN NOT NULL,
    reason TEXT NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    latency_ms FLOAT,
    last_checked_at TIMESTAMP WITH TIME ZONE NOT NULL,
    changed_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (registration_id)
)
    """,
    """
CREATE INDEX ix_registration_health_org ON registration_health (org_id)
    """,
    """
CREATE TABLE usage_daily (
    org_id TEXT NOT NULL,
    day DATE NOT NULL,
    router_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    api_key_id TEXT NOT NULL,
    virtual_key_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cached_input_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cost_usd NUMERIC(20, 10) NOT NULL,
    cache_hits BIGINT NOT NULL,
    latency_ms_sum FLOAT NOT NULL,
    PRIMARY KEY (org_id, day, router_id, provider, model, api_key_id, virtual_key_id, team_id)
)
    """,
    """
CREATE TABLE webhook_deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    webhook_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER DEFAULT '0' NOT NULL,
    next_attempt_at TIMESTAMP WITH TIME ZONE NOT NULL,
    last_status_code INTEGER,
    last_error TEXT DEFAULT '' NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    delivered_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (id),
    CONSTRAINT webhook_deliveries_once UNIQUE (webhook_id, event_id)
)
    """,
    """
CREATE INDEX ix_webhook_deliveries_created ON webhook_deliveries (created_at)
    """,
    """
CREATE INDEX ix_webhook_deliveries_due
    ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'
    """,
    """
CREATE INDEX ix_webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id DESC)
    """,
    """
CREATE TABLE webhook_secrets (
    webhook_id TEXT NOT NULL,
    secret_ciphertext TEXT NOT NULL,
    PRIMARY KEY (webhook_id)
)
    """,
    """
CREATE TABLE webhooks (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    router_id TEXT NOT NULL,
    url TEXT NOT NULL,
    event_types JSONB NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_by TEXT,
    stream_version INTEGER NOT NULL,
    secret_rotated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_webhooks_org_router ON webhooks (org_id, router_id)
    """,
]

TABLES = (
    "webhook_deliveries",
    "webhook_secrets",
    "webhooks",
    "health_checks",
    "registration_health",
    "audit_log",
    "usage_daily",
    "inference_payloads",
    "inference_logs",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.drop_table(table)
