"""Jobs and conversations record the principal that owns them.

Rows from before have no owner: only admin sessions see them.

Revision ID: catalog_0002
Revises: catalog_0001
"""

from alembic import op

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("jobs", "conversations"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN owner_kind TEXT, ADD COLUMN owner_id TEXT")
    op.execute("CREATE INDEX ix_jobs_org_owner_created_at ON jobs (org_id, owner_id, created_at)")
    op.execute("CREATE INDEX ix_conversations_org_owner ON conversations (org_id, owner_id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_conversations_org_owner")
    op.execute("DROP INDEX ix_jobs_org_owner_created_at")
    for table in ("jobs", "conversations"):
        op.execute(f"ALTER TABLE {table} DROP COLUMN owner_kind, DROP COLUMN owner_id")
