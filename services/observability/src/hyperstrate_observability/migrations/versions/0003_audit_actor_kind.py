"""The audit log records what kind of actor made each change.

Revision ID: observability_0003
Revises: observability_0002
"""

from alembic import op

revision = "observability_0003"
down_revision = "observability_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE audit_log ADD COLUMN actor_kind TEXT")
    # Entries recorded so far named an actor only when a user's id was in the event body.
    op.execute("UPDATE audit_log SET actor_kind = 'user' WHERE actor_id IS NOT NULL")
    op.execute(
        "CREATE INDEX ix_audit_log_org_actor ON audit_log (org_id, actor_id, occurred_at DESC)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX ix_audit_log_org_actor")
    op.execute("ALTER TABLE audit_log DROP COLUMN actor_kind")
