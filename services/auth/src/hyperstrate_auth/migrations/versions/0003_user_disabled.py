"""Users can be disabled (they keep their data, but cannot sign in or use their sessions).

Revision ID: auth_0003
Revises: auth_0002
"""

from alembic import op

revision = "auth_0003"
down_revision = "auth_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE users ADD COLUMN disabled BOOLEAN DEFAULT false NOT NULL")


def downgrade() -> None:
    op.drop_column("users", "disabled")
