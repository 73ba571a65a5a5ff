"""Inference logs: consumed from `inference.>`, listed with filters, fetched with payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from observability_support import Client, admin_of, completed, failed, new_org, publish

from hyperstrate_contracts.inference import InferencePayloadCaptured
from hyperstrate_kit.testing import wait_for
from hyperstrate_observability.settings import ObservabilitySettings


async def _logs(client: Client, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = await client.get(f"/observability/logs{query}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _wait_total(client: Client, headers: dict[str, str], total: int) -> None:
    async def logged() -> bool:
        return (await _logs(client, headers))["total"] == total

    await wait_for(logged, timeout=15, message=f"{total} logs")


async def test_logs_are_filtered_paged_and_fetched_with_their_payload(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org, other_org = new_org(), new_org()
    day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    streamed = completed(
        org,
        router_id="router-b",
        api_key_id="key-1",
        team_id="team-1",
        stream=True,
        time_to_first_token_ms=80.0,
        occurred_at=day,
    )
    events = [
        streamed,
        completed(org, virtual_key_id="vk-1", occurred_at=day - timedelta(days=1)),
        completed(org, model="gpt-4o", occurred_at=day - timedelta(days=2)),
        failed(org, occurred_at=day - timedelta(days=3)),
        completed(other_org, occurred_at=day),
    ]
    payload = InferencePayloadCaptured(
        org_id=org,
        aggregate_id=streamed.request_id,
        request_id=streamed.request_id,
        router_id="router-b",
        request_body='{"messages":[]}',
        response_body='{"choices":[',
        response_truncated=True,  # the router cut it at PAYLOAD_MAX_BYTES
    )
    await publish(nats_client.jetstream(), [*events, payload])
    admin = admin_of(org)
    await _wait_total(observability_client, admin, 4)

    everything = await _logs(observability_client, admin)
    assert [item["id"] for item in everything["items"]] == [e.event_id for e in events[:4]]
    assert (everything["page"], everything["perPage"], everything["offset"]) == (1, 30, 0)
    for query, expected in [
        ("?routerId=router-b", [events[0]]),
        ("?status=failed", [events[3]]),
        ("?status=completed&model=gpt-4o", [events[2]]),
        ("?provider=anthropic", [events[3]]),
        ("?apiKeyId=key-1", [events[0]]),
        ("?virtualKeyId=vk-1", [events[1]]),
        ("?teamId=team-1", [events[0]]),
        ("?from=2026-03-08&to=2026-03-09", [events[1], events[2]]),
        ("?from=2026-03-09T12:00:00Z", [events[0], events[1]]),
        ("?to=2026-03-07T12:00:00%2B00:00", [events[3]]),
    ]:
        found = await _logs(observability_client, admin, query)
        assert [i["id"] for i in found["items"]] == [e.event_id for e in expected], query
        assert found["total"] == len(expected), query

    first = everything["items"][0]
    assert first["stream"] is True and first["timeToFirstTokenMs"] == 80.0
    assert first["costUsd"] == pytest.approx(0.000123)
    assert everything["items"][3]["errorClass"] == "server_error"

    detail = await observability_client.get(
        f"/observability/logs/{streamed.event_id}", headers=admin
    )
    assert detail.status_code == 200, detail.text
    shown = detail.json()["payload"]
    assert shown["requestBody"] == '{"messages":[]}' and shown["responseBody"] == '{"choices":['
    assert (shown["requestTruncated"], shown["responseTruncated"]) == (False, True)
    assert detail.json()["log"]["requestId"] == streamed.request_id
    without = await observability_client.get(
        f"/observability/logs/{events[1].event_id}", headers=admin
    )
    assert without.json()["payload"] is None

    # Another organisation sees none of it.
    other = admin_of(other_org)
    assert [i["id"] for i in (await _logs(observability_client, other))["items"]] == [
        events[4].event_id
    ]
    hidden = await observability_client.get(
        f"/observability/logs/{streamed.event_id}", headers=other
    )
    assert hidden.status_code == 404


async def test_limit_and_offset_fall_back_to_defaults_when_out_of_range(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org = new_org()
    events = [
        completed(org, occurred_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i))
        for i in range(5)
    ]
    await publish(nats_client.jetstream(), events)
    admin = admin_of(org)
    await _wait_total(observability_client, admin, 5)
    newest_first = [e.event_id for e in reversed(events)]

    async def page(query: str) -> tuple[list[str], int, int]:
        body = await _logs(observability_client, admin, query)
        return [i["id"] for i in body["items"]], body["perPage"], body["offset"]

    assert await page("?limit=2&offset=1") == (newest_first[1:3], 2, 1)
    assert await page("?limit=2&offset=4") == (newest_first[4:], 2, 4)
    for query in ("?limit=0", "?limit=-3", "?limit=100000"):
        assert await page(query) == (newest_first, 30, 0), query
    for query in ("?limit=2&offset=-1", "?limit=2&offset=99999999"):
        assert await page(query) == (newest_first[:2], 2, 0), query
    assert await page("?page=2&perPage=2") == (newest_first[2:4], 2, 2)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?from=yesterday", "from"),
        ("?to=2026-13-01", "to"),
        ("?from=2026-02-30", "from"),
        ("?from=2026-03-02&to=2026-03-01", "from"),
        ("?status=ok", "status"),
        ("?routerId=" + "r" * 101, "routerId"),
        ("?model=" + "m" * 101, "model"),
        ("?limit=ten", "limit"),
        ("?perPage=501", "perPage"),
    ],
)
async def test_bad_filters_are_400_naming_the_parameter(
    observability_client: Client, query: str, field: str
) -> None:
    response = await observability_client.get(
        f"/observability/logs{query}", headers=admin_of(new_org())
    )
    assert response.status_code == 400, response.text
    # The kit names query parameters by their Python name (router_id for routerId).
    named = {name.replace("_", "").lower() for name in response.json()["fields"]}
    assert field.lower() in named, response.json()


async def test_admin_session_required(observability_client: Client) -> None:
    assert (await observability_client.get("/observability/logs")).status_code == 401
    member = admin_of(new_org(), role="member")
    assert (
        await observability_client.get("/observability/logs", headers=member)
    ).status_code == 403
    long_id = "x" * 101
    response = await observability_client.get(
        f"/observability/logs/{long_id}", headers=admin_of(new_org())
    )
    assert response.status_code == 400


async def test_an_undecodable_event_is_dead_lettered_and_the_rest_logged(
    observability_client: Client,
    observability_settings: ObservabilitySettings,
    nats_client: NatsClient,
) -> None:
    org = new_org()
    js = nats_client.jetstream()
    dead: list[Any] = []

    async def on_dead_letter(msg: Any) -> None:
        dead.append(msg)

    dlq = f"dlq.inference.{observability_settings.consumer_prefix}-inference"
    subscription = await nats_client.subscribe(dlq, cb=on_dead_letter)
    try:
        good = completed(org)
        await js.publish("inference.completed", b'{"not": "an event"')
        await js.publish("inference.completed", b'{"org_id": 5}')
        await publish(js, [good])
        await _wait_total(observability_client, admin_of(org), 1)
        await wait_for(lambda: len(dead) == 2, timeout=10, message="2 dead letters")
        assert {msg.headers["Hs-Original-Subject"] for msg in dead} == {"inference.completed"}
        assert all("undecodable" in msg.headers["Hs-Error"] for msg in dead)
    finally:
        await subscription.unsubscribe()
