"""10,000 inference events in a burst are all logged exactly once, and usage adds up.

Prints the measured throughput and lag (run with `-s` to see them).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from observability_support import (
    Client,
    admin_of,
    announce_owned,
    completed,
    database_of,
    failed,
    new_org,
    publish,
)
from sqlalchemy import text

from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed
from hyperstrate_kit.testing import wait_for
from hyperstrate_observability.settings import ObservabilitySettings

BURST = 10_000

MODELS = ("gpt-4o-mini", "gpt-4o", "claude-haiku", "llama-3")
ROUTERS = ("router-a", "router-b", "router-c")


def _burst(org: str, count: int) -> list[InferenceCompleted | InferenceFailed]:
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(days=6)
    events: list[InferenceCompleted | InferenceFailed] = []
    for index in range(count):
        fields: dict[str, Any] = {
            "router_id": rng.choice(ROUTERS),
            "model": rng.choice(MODELS),
            "api_key_id": f"key-{rng.randrange(5)}",
            "virtual_key_id": rng.choice([None, "vk-1", "vk-2"]),
            "team_id": rng.choice([None, "team-1", "team-2"]),
            "input_tokens": rng.randrange(1, 4000),
            "output_tokens": rng.randrange(0, 800),
            "cost_usd": round(rng.random() / 100, 8),
            "latency_ms": rng.uniform(50, 3000),
            "cache_hit": rng.random() < 0.1,
            "occurred_at": start + timedelta(seconds=index * 50),
        }
        make = failed if index % 23 == 0 else completed
        if make is failed:
            fields["cost_usd"] = 0.0
        events.append(make(org, **fields))
    return events


async def _count(settings: ObservabilitySettings, org: str) -> tuple[int, int]:
    async with database_of(settings) as database, database.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT count(*), count(DISTINCT event_id) FROM inference_logs "
                    "WHERE org_id = :org"
                ),
                {"org": org},
            )
        ).one()
    return int(row[0]), int(row[1])


async def test_a_burst_of_10000_events_is_logged_exactly_once_and_usage_adds_up(
    observability_client: Client,
    observability_settings: ObservabilitySettings,
    nats_client: NatsClient,
) -> None:
    org = new_org()
    events = _burst(org, BURST)
    js = nats_client.jetstream()
    admin = admin_of(org)

    started = time.perf_counter()
    await publish(js, events)
    published = time.perf_counter()
    # The same events again, as a router that retries after a lost ack would send them
    # (without a message id, so JetStream keeps them and the consumer sees duplicates).
    await publish(js, events[:500], dedupe=False)

    async def all_logged() -> bool:
        response = await observability_client.get("/observability/logs?perPage=1", headers=admin)
        return bool(response.json()["total"] == BURST)

    await wait_for(all_logged, timeout=90, interval=0.05, message=f"{BURST} logs")
    done = time.perf_counter()
    assert await _count(observability_settings, org) == (BURST, BURST)

    async with database_of(observability_settings) as database, database.sessions() as session:
        first_commit, last_commit = (
            await session.execute(
                text(
                    "SELECT extract(epoch FROM min(logged_at)), extract(epoch FROM max(logged_at))"
                    " FROM inference_logs WHERE org_id = :org"
                ),
                {"org": org},
            )
        ).one()
    writing = float(last_commit - first_commit)
    print(
        f"\nburst: published {BURST} in {published - started:.2f}s "
        f"({BURST / (published - started):.0f}/s); all logged {done - started:.2f}s after the "
        f"first publish ({BURST / (done - started):.0f} events/s end to end); the consumer "
        f"wrote them in {writing:.2f}s between its first and last batch "
        f"({BURST / max(writing, 1e-3):.0f} events/s while publishing ran alongside)"
    )

    # Usage equals the sum of the logs: the API's totals and groups against the events.
    expected_cost = sum(Decimal(repr(e.cost_usd)) for e in events)
    report = (
        await observability_client.get(
            "/observability/usage?groupBy=model&from=2000-01-01&perPage=500", headers=admin
        )
    ).json()
    totals = report["totals"]
    assert totals["requests"] == BURST
    assert totals["failedRequests"] == sum(isinstance(e, InferenceFailed) for e in events)
    assert totals["inputTokens"] == sum(e.input_tokens for e in events)
    assert totals["outputTokens"] == sum(e.output_tokens for e in events)
    assert totals["cacheHits"] == sum(e.cache_hit for e in events)
    assert totals["costUsd"] == pytest.approx(float(expected_cost), abs=1e-9)
    by_model: dict[str, int] = defaultdict(int)
    for event in events:
        by_model[event.model] += event.input_tokens
    assert {row["key"]: row["inputTokens"] for row in report["items"]} == by_model

    async with database_of(observability_settings) as database, database.sessions() as session:
        from_logs = (
            await session.execute(
                text(
                    "SELECT count(*), sum(cost_usd), sum(output_tokens) FROM inference_logs "
                    "WHERE org_id = :org"
                ),
                {"org": org},
            )
        ).one()
        from_usage = (
            await session.execute(
                text(
                    "SELECT sum(requests), sum(cost_usd), sum(output_tokens) FROM usage_daily "
                    "WHERE org_id = :org"
                ),
                {"org": org},
            )
        ).one()
    assert tuple(from_logs) == tuple(from_usage)
    assert from_logs[1] == expected_cost  # exact: NUMERIC, no float drift

    by_day = (
        await observability_client.get(
            "/observability/usage?groupBy=day&from=2000-01-01", headers=admin
        )
    ).json()
    assert sum(row["requests"] for row in by_day["items"]) == BURST
    assert [row["key"] for row in by_day["items"]] == sorted(row["key"] for row in by_day["items"])

    await announce_owned(js, org, "team", "team-1")
    await announce_owned(js, org, "virtual_key", "vk-2")
    team = (await observability_client.get("/observability/usage/teams/team-1?from=2000-01-01",
                                           headers=admin)).json()  # fmt: skip
    team_events = [e for e in events if e.team_id == "team-1"]
    assert team["usedRequests"] == sum(isinstance(e, InferenceCompleted) for e in team_events)
    assert team["usedCostUsd"] == pytest.approx(
        float(sum(Decimal(repr(e.cost_usd)) for e in team_events)), abs=1e-9
    )
    vk = (await observability_client.get("/observability/usage/virtual-keys/vk-2?from=2000-01-01",
                                         headers=admin)).json()  # fmt: skip
    assert vk["failedRequests"] == sum(
        isinstance(e, InferenceFailed) and e.virtual_key_id == "vk-2" for e in events
    )


async def test_live_lag_of_a_single_event_is_well_under_a_second(
    observability_client: Client,
    observability_settings: ObservabilitySettings,
    nats_client: NatsClient,
) -> None:
    org = new_org()
    admin = admin_of(org)
    js = nats_client.jetstream()
    lags: list[float] = []
    for _ in range(20):
        event = completed(org)
        sent = time.perf_counter()
        await publish(js, [event])

        async def visible(event_id: str = event.event_id) -> bool:
            response = await observability_client.get(
                f"/observability/logs/{event_id}", headers=admin
            )
            return response.status_code == 200

        await wait_for(visible, timeout=10, interval=0.005, message="one log")
        lags.append(time.perf_counter() - sent)
    lags.sort()
    p50, worst = lags[len(lags) // 2] * 1000, lags[-1] * 1000
    print(f"\nlive lag (publish -> visible through the API): p50 {p50:.1f} ms, max {worst:.1f} ms")
    assert lags[len(lags) // 2] < 1.0
