"""Read-model and write-side tables of the auth service."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("version", Integer, nullable=False),  # the aggregate's stream version
    ]


organizations = Table(
    "organizations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    *_timestamps(),
)

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    # Unique per organisation only: another organisation's accounts are never disclosed.
    Column("email", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("team_id", Text),
    Column("disabled", Boolean, nullable=False, server_default="false"),
    *_timestamps(),
    UniqueConstraint("org_id", "email", name="users_org_email"),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("max_requests", Integer),
    Column("max_cost_usd", Float),
    *_timestamps(),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("user_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("router_ids", JSONB, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    *_timestamps(),
)

virtual_keys = Table(
    "virtual_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("team_id", Text),
    Column("max_requests", Integer),
    Column("max_cost_usd", Float),
    Column("reset_period", Text),
    Column("rate_limit_rps", Float),
    Column("router_ids", JSONB, nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    *_timestamps(),
)

router_team_access = Table(
    "router_team_access",
    metadata,
    Column("router_id", Text, primary_key=True),
    Column("team_id", Text, primary_key=True),
    Column("org_id", Text, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Write-side state that is not event-sourced: secrets never enter events.
user_credentials = Table(
    "user_credentials",
    metadata,
    Column("user_id", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("user_id", Text, nullable=False, index=True),
    Column("org_id", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The login a token descends from (None: issued before families, a family of its own).
    Column("family_id", Text, index=True),
    # Set when a refresh spent it: presenting it again is a reuse.
    Column("rotated_at", DateTime(timezone=True)),
)

# Failed logins per account and per client address (hashed: no e-mail or address stored),
# shared by every replica; see `LoginThrottle`.
login_failures = Table(
    "login_failures",
    metadata,
    Column("scope", Text, primary_key=True),  # "account" | "address"
    Column("subject_hash", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", DateTime(timezone=True), nullable=False),
    Column("blocked_until", DateTime(timezone=True)),
)

# Batched from the gateway's usage reports; survives a read-model rebuild.
key_usage = Table(
    "key_usage",
    metadata,
    Column("key_hash", Text, primary_key=True),
    Column("last_used_at", DateTime(timezone=True), nullable=False),
)

oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("state", Text, primary_key=True),
    Column("provider", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("code_verifier", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("state", name="oidc_logins_state"),
)

PROJECTION_TABLES = (organizations, users, teams, api_keys, virtual_keys, router_team_access)
