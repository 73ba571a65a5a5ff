"""`svc.observability.budget_spend`: what each cap subject spent per period up to a cutoff,
counting what the router's ledger counts (answers, and failures after a model ran), and the
team and virtual-key spend API agreeing with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NatsClient
from observability_support import (
    Client,
    admin_of,
    announce_owned,
    completed,
    failed,
    new_org,
    publish,
)

from hyperstrate_contracts.budgets import (
    BUDGET_SPEND_SUBJECT,
    BudgetSpend,
    BudgetSpendRequest,
    period_key,
)
from hyperstrate_kit.bus import request
from hyperstrate_kit.testing import wait_for


async def _wait_logged(client: Client, org: str, count: int) -> None:
    async def logged() -> bool:
        response = await client.get("/observability/logs", headers=admin_of(org))
        return bool(response.json()["total"] == count)

    await wait_for(logged, timeout=15, message=f"{count} events logged")


async def _spend(nats_client: NatsClient, question: BudgetSpendRequest) -> BudgetSpend:
    return await request(nats_client, BUDGET_SPEND_SUBJECT, question, BudgetSpend, timeout=5)


async def test_spend_per_period_counts_billed_requests_up_to_the_cutoff(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org = new_org()
    vk, team = f"vk_{uuid.uuid4().hex[:8]}", f"team_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    cutoff = now - timedelta(seconds=30)
    long_ago = now - timedelta(days=400)  # only in the roll-up's "ever"
    spent = dict(virtual_key_id=vk, team_id=team, cost_usd=0.25)
    events = [
        completed(org, occurred_at=cutoff - timedelta(seconds=5), **spent),
        completed(org, occurred_at=long_ago, **spent),
        # failed after the model ran: billed; a refusal (no target): not billed
        failed(org, target_id="t", occurred_at=cutoff - timedelta(seconds=3), **spent),
        failed(org, error_class="refused", occurred_at=cutoff - timedelta(seconds=2), **spent),
        completed(org, occurred_at=now, **spent),  # after the cutoff: the router counts it
    ]
    await publish(nats_client.jetstream(), events)
    await _wait_logged(observability_client, org, len(events))
    # Counted by hand (the events before the cutoff and billed: 0, 2 and the old one).
    billed_before = [events[0], events[2]]

    def in_period(period: str) -> int:
        key = period_key(period, cutoff)
        return sum(period_key(period, e.occurred_at) == key for e in billed_before)

    answer = await _spend(
        nats_client, BudgetSpendRequest(cutoff=cutoff, subjects=(f"vk:{vk}", f"team:{team}"))
    )
    by_subject = {item.subject: item for item in answer.items}
    assert set(by_subject) == {f"team:{team}", f"vk:{vk}"}
    for item in by_subject.values():
        assert item.requests[period_key("daily", cutoff)] == in_period("daily")
        assert item.requests[period_key("weekly", cutoff)] == in_period("weekly")
        assert item.requests[period_key("monthly", cutoff)] == in_period("monthly")
        assert item.requests["all"] == 3
        assert item.cost_usd["all"] == 1.0  # 0.25 each, the refusal's included as logged
    assert answer.next_after is None

    # Paging through every subject, one at a time, finds them in order.
    seen, after = [], ""
    while True:
        page = await _spend(
            nats_client, BudgetSpendRequest(cutoff=cutoff, org_id=org, after=after, limit=1)
        )
        seen += [item.subject for item in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == sorted(["router:router-a", f"team:{team}", f"vk:{vk}"])


async def test_team_and_virtual_key_spend_count_what_the_caps_count(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org = new_org()
    vk = await announce_owned(nats_client.jetstream(), org, "virtual_key")
    events = [
        completed(org, virtual_key_id=vk, cost_usd=0.5),
        failed(org, virtual_key_id=vk, target_id="t"),
        failed(org, virtual_key_id=vk, error_class="refused"),
        completed(org, virtual_key_id=vk, occurred_at=datetime.now(UTC) - timedelta(days=400)),
    ]
    await publish(nats_client.jetstream(), events)
    await _wait_logged(observability_client, org, len(events))

    async def spend(query: str = "") -> dict[str, object]:
        path = f"/observability/usage/virtual-keys/{vk}{query}"
        response = await observability_client.get(path, headers=admin_of(org))
        assert response.status_code == 200, response.text
        return dict(response.json())

    # The answer and the failure after the model ran count; the refusal does not.
    body = await spend()
    assert (body["usedRequests"], body["failedRequests"], body["usedCostUsd"]) == (2, 2, 0.5)
    assert (await spend("?period=monthly"))["usedRequests"] == 2  # a monthly cap's view
    assert (await spend("?period=all"))["usedRequests"] == 3  # a cap that never resets
    for query in ["?period=yearly", "?period=daily&from=2026-01-01"]:
        response = await observability_client.get(
            f"/observability/usage/virtual-keys/{vk}{query}", headers=admin_of(org)
        )
        assert response.status_code == 400 and "period" in response.json()["fields"], query


async def test_another_organisations_team_or_key_is_a_404_as_one_that_never_was(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org, other_org = new_org(), new_org()
    js = nats_client.jetstream()
    team = await announce_owned(js, other_org, "team")
    vk = await announce_owned(js, other_org, "virtual_key")
    await publish(js, [completed(other_org, team_id=team, virtual_key_id=vk, cost_usd=0.25)])
    await _wait_logged(observability_client, other_org, 1)
    theirs = admin_of(other_org)
    for path, missing in (
        (f"/observability/usage/teams/{team}", "team not found"),
        (f"/observability/usage/virtual-keys/{vk}", "virtual key not found"),
    ):
        for query in ("", "?period=monthly", "?from=2000-01-01"):
            own = await observability_client.get(path + query, headers=theirs)
            assert own.status_code == 200 and own.json()["usedCostUsd"] == 0.25, own.text
            other = await observability_client.get(path + query, headers=admin_of(org))
            never = await observability_client.get(
                path.rsplit("/", 1)[0] + f"/never_{uuid.uuid4().hex}{query}",
                headers=admin_of(org),
            )
            assert other.status_code == never.status_code == 404, (path, query, other.text)
            assert other.json() == never.json() == {"error": missing, "fields": {}}
