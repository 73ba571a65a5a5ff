"""PostgreSQL restarted under a running observability service: the logs published while it
was down are written once it is back (none lost, none twice, none spent on redeliveries),
the admin API answers 503 meanwhile, and the service is ready again without a restart."""

from __future__ import annotations

from dataclasses import replace

from nats.aio.client import Client as NatsClient
from observability_support import (
    admin_of,
    completed,
    database_of,
    fresh_inference_stream,
    new_org,
    publish,
    running,
    settings_env,
)
from sqlalchemy import text

from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, RestartablePostgres, wait_for
from hyperstrate_observability.settings import ObservabilitySettings

RECOVERY_SECONDS = 15


async def test_logs_published_while_postgres_is_down_are_written_once_it_is_back(
    infrastructure: Infrastructure,
    restartable_postgres: RestartablePostgres,
    nats_client: NatsClient,
) -> None:
    own_database = replace(infrastructure, database_url=restartable_postgres.url)
    settings = load_settings(ObservabilitySettings, environ=settings_env(own_database))
    js = nats_client.jetstream()
    await fresh_inference_stream(js)
    org = new_org()
    durable = f"{settings.consumer_prefix}-inference"

    async def logged() -> int:
        async with database_of(settings) as database, database.sessions() as session:
            query = text("SELECT count(DISTINCT event_id), count(*) FROM inference_logs "
                         "WHERE org_id = :org")  # fmt: skip
            distinct, rows = (await session.execute(query, {"org": org})).one()
        assert distinct == rows, "a log written twice"
        return int(rows)

    async with running(settings) as client:
        await publish(js, [completed(org) for _ in range(20)])
        await wait_for(lambda: _at_least(logged, 20), timeout=RECOVERY_SECONDS,
                       message="the first logs")  # fmt: skip

        await restartable_postgres.stop()
        await publish(js, [completed(org) for _ in range(200)])

        async def in_hand() -> bool:
            return (await js.consumer_info("INFERENCE", durable)).num_ack_pending > 0

        await wait_for(in_hand, timeout=RECOVERY_SECONDS, message="a batch waiting in hand")
        down = await client.get("/observability/logs", headers=admin_of(org))
        assert down.status_code == 503, down.text
        assert down.json()["error"] == "database unavailable, retry shortly"
        assert down.headers["retry-after"] == "2"
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False

        await restartable_postgres.start()
        await wait_for(lambda: _at_least(logged, 220), timeout=RECOVERY_SECONDS,
                       message="the logs of the outage written")  # fmt: skip

        async def ready_again() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await wait_for(ready_again, timeout=RECOVERY_SECONDS, message="/readyz green again")
        listed = await client.get("/observability/logs", headers=admin_of(org))
        assert listed.status_code == 200 and listed.json()["total"] == 220
        consumer = await js.consumer_info("INFERENCE", durable)
        assert consumer.num_redelivered == 0  # held through the outage, not naked and resent
        assert await logged() == 220


async def _at_least(count: object, expected: int) -> bool:
    assert callable(count)
    return bool(await count() >= expected)
