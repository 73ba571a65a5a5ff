"""Catalog read models (registrations, jobs, conversations, MCP servers) and the write-side
tables of encrypted secrets and job payloads.

Revision ID: catalog_0001
Revises:
"""

from alembic import op

revision = "catalog_0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """
CREATE TABLE conversation_messages (
    id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    registration_id TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd FLOAT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_conversation_messages_conversation
    ON conversation_messages (conversation_id, position)
    """,
    """
CREATE TABLE conversations (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    title TEXT NOT NULL,
    registration_id TEXT,
    system_prompt TEXT,
    message_count INTEGER NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_conversations_org_id ON conversations (org_id)
    """,
    """
CREATE TABLE job_payloads (
    job_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    request JSONB NOT NULL,
    result JSONB,
    callback_url TEXT,
    callback_secret_ciphertext TEXT,
    dispatched_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (job_id)
)
    """,
    """
CREATE TABLE jobs (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    registration_id TEXT NOT NULL,
    status TEXT NOT NULL,
    has_callback BOOLEAN NOT NULL,
    submitted_by TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_input_tokens INTEGER NOT NULL,
    cost_usd FLOAT NOT NULL,
    latency_ms FLOAT,
    error_class TEXT,
    error_message TEXT,
    callback_status TEXT,
    callback_attempts INTEGER NOT NULL,
    callback_status_code INTEGER,
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_jobs_org_id_created_at ON jobs (org_id, created_at)
    """,
    """
CREATE TABLE mcp_server_secrets (
    server_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    headers_ciphertext TEXT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (server_id)
)
    """,
    """
CREATE TABLE mcp_servers (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    transport TEXT NOT NULL,
    header_names JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_mcp_servers_org_id ON mcp_servers (org_id)
    """,
    """
CREATE TABLE registration_secrets (
    registration_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    api_key_ciphertext TEXT NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (registration_id)
)
    """,
    """
CREATE TABLE registrations (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    catalog_key TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    base_url TEXT,
    has_api_key BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_registrations_org_id ON registrations (org_id)
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "registrations",
        "registration_secrets",
        "mcp_servers",
        "mcp_server_secrets",
        "jobs",
        "job_payloads",
        "conversations",
        "conversation_messages",
    ):
        op.drop_table(table)
