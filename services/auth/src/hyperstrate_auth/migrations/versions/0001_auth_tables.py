"""Auth read models, credentials, refresh tokens, key usage, OIDC login state.

Revision ID: auth_0001
Revises:
"""

from alembic import op

revision = "auth_0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """
CREATE TABLE api_keys (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    router_ids JSONB NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE,
    revoked_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (key_hash)
)
    """,
    """
CREATE INDEX ix_api_keys_org_id ON api_keys (org_id)
    """,
    """
CREATE TABLE key_usage (
    key_hash TEXT NOT NULL,
    last_used_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (key_hash)
)
    """,
    """
CREATE TABLE oidc_logins (
    state TEXT NOT NULL,
    provider TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (state),
    CONSTRAINT oidc_logins_state UNIQUE (state)
)
    """,
    """
CREATE TABLE organizations (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE TABLE refresh_tokens (
    token_hash TEXT NOT NULL,
    user_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (token_hash)
)
    """,
    """
CREATE INDEX ix_refresh_tokens_user_id ON refresh_tokens (user_id)
    """,
    """
CREATE TABLE router_team_access (
    router_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (router_id, team_id)
)
    """,
    """
CREATE INDEX ix_router_team_access_org_id ON router_team_access (org_id)
    """,
    """
CREATE TABLE teams (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    max_requests INTEGER,
    max_cost_usd FLOAT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_teams_org_id ON teams (org_id)
    """,
    """
CREATE TABLE user_credentials (
    user_id TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    PRIMARY KEY (user_id)
)
    """,
    """
CREATE TABLE users (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    team_id TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (email)
)
    """,
    """
CREATE INDEX ix_users_org_id ON users (org_id)
    """,
    """
CREATE TABLE virtual_keys (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    team_id TEXT,
    max_requests INTEGER,
    max_cost_usd FLOAT,
    reset_period TEXT,
    rate_limit_rps FLOAT,
    router_ids JSONB NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE,
    revoked_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id),
    UNIQUE (key_hash)
)
    """,
    """
CREATE INDEX ix_virtual_keys_org_id ON virtual_keys (org_id)
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("oidc_logins", "key_usage", "refresh_tokens", "user_credentials",
                  "router_team_access", "virtual_keys", "api_keys", "teams", "users",
                  "organizations"):  # fmt: skip
        op.drop_table(table)
