"""Webhooks that follow a router's `webhookUrl`.

Revision ID: observability_0002
Revises: observability_0001
"""

from alembic import op

revision = "observability_0002"
down_revision = "observability_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE webhooks ADD COLUMN managed_by TEXT DEFAULT 'api' NOT NULL")


def downgrade() -> None:
    op.execute("ALTER TABLE webhooks DROP COLUMN managed_by")
