"""Refresh-token families, login failure counters, e-mails unique per organisation.

Revision ID: auth_0002
Revises: auth_0001
"""

from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    # A token rotated by a refresh belongs to the family of the login that started it;
    # tokens from before have none and count as a family of their own.
    "ALTER TABLE refresh_tokens ADD COLUMN family_id TEXT",
    "ALTER TABLE refresh_tokens ADD COLUMN rotated_at TIMESTAMP WITH TIME ZONE",
    "CREATE INDEX ix_refresh_tokens_family_id ON refresh_tokens (family_id)",
    """
CREATE TABLE login_failures (
    scope TEXT NOT NULL,
    subject_hash TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMP WITH TIME ZONE NOT NULL,
    blocked_until TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (scope, subject_hash)
)
    """,
    "ALTER TABLE users DROP CONSTRAINT users_email_key",
    "ALTER TABLE users ADD CONSTRAINT users_org_email UNIQUE (org_id, email)",
    "CREATE INDEX ix_users_email ON users (email)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP INDEX ix_users_email")
    op.execute("ALTER TABLE users DROP CONSTRAINT users_org_email")
    op.execute("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)")
    op.drop_table("login_failures")
    op.execute("DROP INDEX ix_refresh_tokens_family_id")
    op.execute("ALTER TABLE refresh_tokens DROP COLUMN rotated_at")
    op.execute("ALTER TABLE refresh_tokens DROP COLUMN family_id")
