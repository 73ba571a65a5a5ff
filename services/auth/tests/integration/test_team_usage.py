"""Team usage comes from observability's record (what the caps count), asked over NATS."""

from __future__ import annotations

import httpx
from auth_support import bearer, setup_admin
from nats.aio.client import Client as NatsClient

from hyperstrate_contracts.budgets import (
    BUDGET_SPEND_SUBJECT,
    BudgetSpend,
    BudgetSpendRequest,
    SubjectSpend,
)
from hyperstrate_kit.bus import serve


async def test_teams_show_what_observability_recorded_for_their_caps(
    auth_client: httpx.AsyncClient, nats_client: NatsClient
) -> None:
    admin = bearer(await setup_admin(auth_client))
    team = (await auth_client.post("/auth/teams", headers=admin, json={"name": "ML"})).json()
    idle = (await auth_client.post("/auth/teams", headers=admin, json={"name": "Ops"})).json()
    asked: list[BudgetSpendRequest] = []

    async def observability(question: BudgetSpendRequest) -> BudgetSpend:
        asked.append(question)
        spent = SubjectSpend(
            subject=f"team:{team['id']}", requests={"all": 7}, cost_usd={"all": 1.25}
        )
        return BudgetSpend(items=[spent] if spent.subject in question.subjects else [])

    responder = await serve(nats_client, BUDGET_SPEND_SUBJECT, BudgetSpendRequest, observability)
    try:
        shown = (await auth_client.get(f"/auth/teams/{team['id']}", headers=admin)).json()
        assert (shown["usedRequests"], shown["usedCostUsd"]) == (7, 1.25)
        listed = (await auth_client.get("/auth/teams", headers=admin)).json()["items"]
        usage = {item["name"]: (item["usedRequests"], item["usedCostUsd"]) for item in listed}
        assert usage == {"ML": (7, 1.25), "Ops": (0, 0.0)}
        assert {q.org_id for q in asked} == {team["orgId"]}  # scoped to the caller's org
        assert set(asked[-1].subjects) == {f"team:{team['id']}", f"team:{idle['id']}"}
    finally:
        await responder.unsubscribe()
    # Observability not answering: the usage is unknown, not a made-up zero.
    unknown = (await auth_client.get(f"/auth/teams/{team['id']}", headers=admin)).json()
    assert (unknown["usedRequests"], unknown["usedCostUsd"]) == (None, None)
