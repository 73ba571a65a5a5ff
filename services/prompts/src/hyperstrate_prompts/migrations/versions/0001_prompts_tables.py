"""Prompts and their versions (read models of the prompt event streams).

Revision ID: prompts_0001
Revises:
"""

from alembic import op

revision = "prompts_0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """
CREATE TABLE prompts (
    id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    text TEXT NOT NULL,
    variables JSONB NOT NULL,
    version INTEGER NOT NULL,
    stream_version INTEGER NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (id)
)
    """,
    """
CREATE UNIQUE INDEX prompts_org_name ON prompts (org_id, name)
    """,
    """
CREATE TABLE prompt_versions (
    prompt_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    text TEXT NOT NULL,
    variables JSONB NOT NULL,
    restored_from INTEGER,
    created_by TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (prompt_id, version)
)
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("prompt_versions")
    op.drop_table("prompts")
