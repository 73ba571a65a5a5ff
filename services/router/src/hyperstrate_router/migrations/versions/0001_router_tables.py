"""Router read models: routers, targets, features, interceptors, configurations.

Revision ID: router_0001
Revises:
"""

from alembic import op

revision = "router_0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """
CREATE TABLE routers (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    strategy TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT routers_org_name UNIQUE (org_id, name)
)
    """,
    """
CREATE TABLE router_targets (
    id TEXT NOT NULL,
    router_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    registration_id TEXT NOT NULL,
    weight INTEGER NOT NULL,
    percentage FLOAT NOT NULL,
    priority INTEGER NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_router_targets_router_id ON router_targets (router_id)
    """,
    """
CREATE TABLE router_features (
    id TEXT NOT NULL,
    router_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    feature_type TEXT NOT NULL,
    config JSONB NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id),
    CONSTRAINT router_features_router_type UNIQUE (router_id, feature_type)
)
    """,
    """
CREATE TABLE router_interceptors (
    id TEXT NOT NULL,
    router_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    interceptor_type TEXT NOT NULL,
    config JSONB NOT NULL,
    enabled BOOLEAN NOT NULL,
    run_order INTEGER NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE INDEX ix_router_interceptors_router_id ON router_interceptors (router_id)
    """,
    """
CREATE TABLE router_configurations (
    router_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    webhook_url TEXT,
    prompt_id TEXT,
    store_payloads BOOLEAN NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
    PRIMARY KEY (router_id)
)
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("router_configurations", "router_interceptors", "router_features",
                  "router_targets", "routers"):  # fmt: skip
        op.drop_table(table)
