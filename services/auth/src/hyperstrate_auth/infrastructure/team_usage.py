"""Team usage from observability, over NATS request/reply: the same record the router's
budget ledger is rebuilt from, so a team's `usedRequests` is what its caps count."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from nats.aio.client import Client as NatsClient

from hyperstrate_contracts.budgets import BUDGET_SPEND_SUBJECT, BudgetSpend, BudgetSpendRequest
from hyperstrate_kit.bus import RemoteError, ServiceUnavailable, request

__all__ = ["ObservabilityTeamUsage"]

log = logging.getLogger(__name__)


class ObservabilityTeamUsage:
    """Asks `svc.observability.budget_spend` for the teams' spend (teams' caps never reset)."""

    def __init__(self, nc: NatsClient, timeout: float = 2.0) -> None:
        self.nc, self.timeout = nc, timeout

    async def spent(
        self, org_id: str, team_ids: Sequence[str]
    ) -> dict[str, tuple[int, float]] | None:
        """Billed requests and cost per team id; None when observability does not answer."""
        question = BudgetSpendRequest(
            org_id=org_id,
            subjects=tuple(f"team:{team_id}" for team_id in team_ids),
            limit=len(team_ids),
        )
        try:
            answer = await request(
                self.nc, BUDGET_SPEND_SUBJECT, question, BudgetSpend, timeout=self.timeout
            )
        except (ServiceUnavailable, RemoteError) as exc:
            log.warning("team usage unavailable: %s", exc)
            return None
        return {
            item.subject.removeprefix("team:"): (item.requests["all"], item.cost_usd["all"])
            for item in answer.items
        }
