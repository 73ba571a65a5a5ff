"""Captured payloads say whether the router cut their request or response body.

Revision ID: observability_0004
Revises: observability_0003
"""

from alembic import op

revision = "observability_0004"
down_revision = "observability_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE inference_payloads"
        " ADD COLUMN request_truncated BOOLEAN DEFAULT false NOT NULL,"
        " ADD COLUMN response_truncated BOOLEAN DEFAULT false NOT NULL"
    )


def downgrade() -> None:
    op.execute(
        "ALTER TABLE inference_payloads"
        " DROP COLUMN request_truncated, DROP COLUMN response_truncated"
    )
