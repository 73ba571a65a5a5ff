"""Daily usage counts the requests that count against caps (answered, or failed after a model
ran), so observability's spend agrees with the router's budget ledger.

Revision ID: observability_0005
Revises: observability_0004
"""

from alembic import op

revision = "observability_0005"
down_revision = "observability_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE usage_daily ADD COLUMN billed_requests BIGINT NOT NULL DEFAULT 0")
    # Answered requests were billed; of the failures, those the logs say reached a model.
    op.execute("UPDATE usage_daily SET billed_requests = requests - failed_requests")
    op.execute(
        """
        UPDATE usage_daily u SET billed_requests = u.billed_requests + f.n
        FROM (
            SELECT org_id, (occurred_at AT TIME ZONE 'UTC')::date AS day,
                   COALESCE(router_id, '') AS router_id, provider, model,
                   COALESCE(api_key_id, '') AS api_key_id,
                   COALESCE(virtual_key_id, '') AS virtual_key_id,
                   COALESCE(team_id, '') AS team_id, count(*) AS n
            FROM inference_logs WHERE status = 'failed' AND target_id IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
        ) f
        WHERE u.org_id = f.org_id AND u.day = f.day AND u.router_id = f.router_id
          AND u.provider = f.provider AND u.model = f.model AND u.api_key_id = f.api_key_id
          AND u.virtual_key_id = f.virtual_key_id AND u.team_id = f.team_id
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE usage_daily DROP COLUMN billed_requests")
