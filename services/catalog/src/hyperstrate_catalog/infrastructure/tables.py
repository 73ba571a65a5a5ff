"""Read-model and write-side tables of the catalog service.

Read models (rebuilt from events): registrations, jobs, conversations and their messages,
MCP servers. Write-side tables (never in an event, so never rebuilt): encrypted secrets and
job payloads (request, result, callback target), written in the append's transaction.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "PROJECTION_TABLES",
    "conversation_messages",
    "conversations",
    "job_payloads",
    "jobs",
    "mcp_server_secrets",
    "mcp_servers",
    "metadata",
    "registration_secrets",
    "registrations",
]

metadata = MetaData()


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("version", Integer, nullable=False),  # the aggregate's stream version
    ]


registrations = Table(
    "registrations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("catalog_key", Text, nullable=False),
    Column("provider", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("base_url", Text),
    Column("has_api_key", Boolean, nullable=False),
    *_timestamps(),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("registration_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("has_callback", Boolean, nullable=False),
    Column("submitted_by", Text, nullable=False),
    # The owning principal (NULL on jobs submitted before owners were recorded: admins only).
    Column("owner_kind", Text),
    Column("owner_id", Text),
    Column("attempts", Integer, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cached_input_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("latency_ms", Float),
    Column("error_class", Text),
    Column("error_message", Text),
    Column("callback_status", Text),
    Column("callback_attempts", Integer, nullable=False),
    Column("callback_status_code", Integer),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    *_timestamps(),
    Index("ix_jobs_org_id_created_at", "org_id", "created_at"),
    Index("ix_jobs_org_owner_created_at", "org_id", "owner_id", "created_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("title", Text, nullable=False),
    Column("registration_id", Text),
    Column("system_prompt", Text),
    Column("message_count", Integer, nullable=False),
    Column("owner_kind", Text),  # as on jobs
    Column("owner_id", Text),
    *_timestamps(),
    Index("ix_conversations_org_owner", "org_id", "owner_id"),
)

conversation_messages = Table(
    "conversation_messages",
    metadata,
    Column("id", Text, primary_key=True),
    Column("conversation_id", Text, nullable=False),
    Column("org_id", Text, nullable=False),
    Column("position", Integer, nullable=False),  # the conversation's stream version
    Column("role", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("registration_id", Text),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_conversation_messages_conversation", "conversation_id", "position"),
)

mcp_servers = Table(
    "mcp_servers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("transport", Text, nullable=False),
    Column("header_names", JSONB, nullable=False),
    *_timestamps(),
)

registration_secrets = Table(
    "registration_secrets",
    metadata,
    Column("registration_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("api_key_ciphertext", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

mcp_server_secrets = Table(
    "mcp_server_secrets",
    metadata,
    Column("server_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("headers_ciphertext", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

job_payloads = Table(
    "job_payloads",
    metadata,
    Column("job_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False),
    Column("request", JSONB, nullable=False),
    Column("result", JSONB),
    Column("callback_url", Text),
    Column("callback_secret_ciphertext", Text),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: Tables the projection owns (emptied and replayed by `rebuild`).
PROJECTION_TABLES = (registrations, jobs, conversations, conversation_messages, mcp_servers)
