"""Retention purges in batches (usage survives); /metrics exports inference metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from nats.aio.client import Client as NatsClient
from observability_support import (
    Client,
    admin_of,
    completed,
    database_of,
    failed,
    new_org,
    publish,
)
from sqlalchemy import insert, text

from hyperstrate_contracts.inference import InferencePayloadCaptured
from hyperstrate_kit.testing import wait_for
from hyperstrate_observability.infrastructure.audit import AuditEntry, record_audit_entry
from hyperstrate_observability.infrastructure.log_writer import InferenceLogWriter
from hyperstrate_observability.infrastructure.retention import RetentionPurger
from hyperstrate_observability.infrastructure.tables import health_checks
from hyperstrate_observability.settings import ObservabilitySettings


async def test_purge_deletes_what_aged_out_in_batches_and_keeps_usage(
    observability_settings: ObservabilitySettings,
) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    old, recent = now - timedelta(days=91), now - timedelta(days=89)
    org = new_org()
    events = [completed(org, occurred_at=old) for _ in range(7)]
    events += [completed(org, occurred_at=recent) for _ in range(2)]
    payloads = [
        InferencePayloadCaptured(
            org_id=org, aggregate_id=e.request_id, request_id=e.request_id, occurred_at=at
        )
        for e, at in ((events[0], old), (events[-1], recent))
    ]
    async with database_of(observability_settings) as database:
        async with database.transaction() as session:
            await InferenceLogWriter().write(
                session, [(e, msgspec.json.encode(e)) for e in [*events, *payloads]]
            )
            for index, at in enumerate((old, old, recent)):
                await record_audit_entry(
                    session,
                    AuditEntry(f"ev-{org}-{index}", org, "auth.team.created", "t", None, at, {}),
                )
            await session.execute(
                insert(health_checks),
                [
                    {
                        "registration_id": "r",
                        "org_id": org,
                        "ok": True,
                        "error": "",
                        "checked_at": at,
                    }
                    for at in (old, recent)
                ],
            )
        counts = await RetentionPurger(database, retention_days=90, batch_size=3).purge(now)
        assert counts["inference_logs"] == 7
        assert counts["inference_payloads"] == 1
        assert counts["audit_log"] == 2
        assert counts["health_checks"] == 1
        async with database.sessions() as session:
            left = (
                await session.execute(
                    text(
                        "SELECT (SELECT count(*) FROM inference_logs WHERE org_id = :org),"
                        " (SELECT count(*) FROM inference_payloads WHERE org_id = :org),"
                        " (SELECT count(*) FROM audit_log WHERE org_id = :org),"
                        " (SELECT sum(requests) FROM usage_daily WHERE org_id = :org)"
                    ),
                    {"org": org},
                )
            ).one()
        assert tuple(left) == (2, 1, 1, 9)  # the daily usage of purged logs stays
        async with database.sessions() as session:
            kept = await session.execute(
                text("SELECT request_id FROM inference_payloads WHERE org_id = :org"), {"org": org}
            )
        # A payload carries its log's time: it went with the aged-out log, stays with the other.
        assert kept.scalars().all() == [events[-1].request_id]
        assert await RetentionPurger(database, retention_days=90).purge(now) == {
            "inference_logs": 0,
            "inference_payloads": 0,
            "audit_log": 0,
            "health_checks": 0,
            "webhook_deliveries": 0,
        }


async def test_metrics_follow_the_genai_conventions(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org = new_org()
    events = [
        completed(org, router_id="router-metrics", time_to_first_token_ms=120.0, cache_hit=True),
        failed(org, router_id="router-metrics", error_class="rate_limited"),
    ]
    await publish(nats_client.jetstream(), events)

    async def logged() -> bool:
        response = await observability_client.get(
            "/observability/logs?routerId=router-metrics", headers=admin_of(org)
        )
        return bool(response.json()["total"] == 2)

    await wait_for(logged, timeout=10, message="2 logs")
    metrics = (await observability_client.get("/metrics")).text
    for expected in (
        'gen_ai_client_operation_duration_seconds_bucket{error_type="",gen_ai_operation_name="chat"',
        'error_type="rate_limited"',
        'gen_ai_client_token_usage_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="openai"',
        'gen_ai_token_type="input"',
        "gen_ai_server_time_to_first_token_seconds_bucket",
        'hyperstrate_inference_requests_total{model="gpt-4o-mini",provider="openai",'
        'router_id="router-metrics",status="completed",target_id="target-1"}',
        "hyperstrate_inference_cost_usd_total",
        'hyperstrate_inference_cache_hits_total{model="gpt-4o-mini"',
        "hyperstrate_observability_log_lag_seconds_bucket",
        'hyperstrate_consumer_lag_seconds_bucket{consumer="',
    ):
        assert expected in metrics, expected
