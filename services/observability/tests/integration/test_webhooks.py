"""Webhooks: a router's inference events, signed, delivered once a receiver that was down is
back, dead-lettered after the last attempt, and refused for private addresses."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient
from observability_support import (
    Client,
    WebhookReceiver,
    admin_of,
    announce_owned,
    completed,
    database_of,
    failed,
    fresh_inference_stream,
    new_org,
    publish,
    running,
    settings_env,
)
from sqlalchemy import text

from hyperstrate_contracts.router import RouterConfigured, RouterDeleted
from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_observability.domain.webhooks import verify_signature
from hyperstrate_observability.settings import ObservabilitySettings


async def _create(client: Client, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post("/observability/webhooks", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _deliveries(
    client: Client, headers: dict[str, str], webhook_id: str, query: str = ""
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/observability/webhooks/{webhook_id}/deliveries?perPage=500{query}", headers=headers
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_receiver_down_then_back_gets_every_event_once_signed(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    settings = load_settings(
        ObservabilitySettings,
        environ=settings_env(
            infrastructure, WEBHOOK_MAX_ATTEMPTS="60", WEBHOOK_BACKOFF_SECONDS="0.2,0.5"
        ),
    )
    org, other_org = new_org(), new_org()
    admin = admin_of(org)
    receiver = WebhookReceiver(port=free_port())  # not listening yet: connections refused
    js = nats_client.jetstream()
    await fresh_inference_stream(js)
    hooked = await announce_owned(js, org, "router")
    async with running(settings) as client:
        created = await _create(client, admin, routerId=hooked, url=receiver.url)
        secret, webhook_id = created["secret"], created["webhook"]["id"]
        assert secret.startswith("whsec_")
        shown = (await client.get(f"/observability/webhooks/{webhook_id}", headers=admin)).json()
        assert "secret" not in shown and shown["eventTypes"] == [
            "inference.completed",
            "inference.failed",
        ]

        wanted = [completed(org, router_id=hooked) for _ in range(15)]
        wanted += [failed(org, router_id=hooked) for _ in range(5)]
        unwanted = [
            completed(org, router_id="another-router"),
            completed(other_org, router_id=hooked),  # same router id, other org
            completed(org, router_id=None),
        ]
        await publish(js, [*wanted, *unwanted])

        async def failing_for_a_while() -> bool:
            items = await _deliveries(client, admin, webhook_id)
            return len(items) == len(wanted) and all(i["attempts"] >= 3 for i in items)

        await wait_for(failing_for_a_while, timeout=30, message="failed attempts")
        down = await _deliveries(client, admin, webhook_id)
        assert {i["status"] for i in down} == {"pending"}
        assert all("Connect" in i["lastError"] for i in down), down[0]

        await receiver.start()
        try:
            await wait_for(
                lambda: len(receiver.received) >= len(wanted), timeout=30, message="deliveries"
            )

            async def all_delivered() -> bool:
                items = await _deliveries(client, admin, webhook_id)
                return all(i["status"] == "delivered" for i in items)

            await wait_for(all_delivered, timeout=10, message="delivered status")
        finally:
            await receiver.stop()

    counts = Counter(receiver.event_ids())
    assert set(counts) == {e.event_id for e in wanted}
    assert set(counts.values()) == {1}, "every event exactly once"
    now = int(time.time())
    for received in receiver.received:
        assert verify_signature(
            secret, received.headers["x-hyperstrate-signature"], received.body, now=now
        )
        body = msgspec.json.decode(received.body)
        assert body["event_id"] == received.headers["x-hyperstrate-event-id"]
        assert body["type"] == received.headers["x-hyperstrate-event"]
        assert body["router_id"] == hooked
    assert not verify_signature("whsec_wrong", received.headers["x-hyperstrate-signature"],
                                received.body, now=now)  # fmt: skip


async def test_dead_letter_after_the_last_attempt_then_retry_by_hand(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    settings = load_settings(
        ObservabilitySettings,
        environ=settings_env(
            infrastructure, WEBHOOK_MAX_ATTEMPTS="3", WEBHOOK_BACKOFF_SECONDS="0.1"
        ),
    )
    org = new_org()
    admin = admin_of(org)
    receiver = WebhookReceiver(port=free_port(), status=500)
    await receiver.start()
    js = nats_client.jetstream()
    await fresh_inference_stream(js)
    dead_letters: list[Any] = []

    async def on_dead_letter(msg: Any) -> None:
        dead_letters.append(msg)

    subscription = await nats_client.subscribe(
        f"dlq.webhooks.{settings.consumer_prefix}", cb=on_dead_letter
    )
    router = await announce_owned(js, org, "router")
    try:
        async with running(settings) as client:
            webhook_id = (await _create(client, admin, routerId=router, url=receiver.url))[
                "webhook"
            ]["id"]
            event = completed(org, router_id=router)
            await publish(js, [event])

            async def dead() -> list[dict[str, Any]]:
                return await _deliveries(client, admin, webhook_id, "&status=dead")

            [delivery] = await wait_for(dead, timeout=15, message="a dead delivery")
            assert delivery["attempts"] == 3
            assert delivery["lastStatusCode"] == 500 and delivery["lastError"] == "HTTP 500"
            await wait_for(lambda: dead_letters, timeout=5, message="the dead letter")
            assert dead_letters[0].headers["Hs-Event-Id"] == event.event_id
            assert receiver.received == []

            receiver.status = 200
            retried = await client.post(
                f"/observability/webhooks/{webhook_id}/deliveries/{delivery['id']}/retry",
                headers=admin,
            )
            assert retried.status_code == 200, retried.text
            assert retried.json()["status"] == "pending"
            await wait_for(lambda: receiver.received, timeout=10, message="the retried delivery")
            assert receiver.event_ids() == [event.event_id]
            again = await client.post(
                f"/observability/webhooks/{webhook_id}/deliveries/{delivery['id']}/retry",
                headers=admin,
            )
            assert again.status_code == 409
    finally:
        await subscription.unsubscribe()
        await receiver.stop()


async def test_disabled_and_deleted_webhooks_get_nothing_and_other_orgs_see_404(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org = new_org()
    admin, outsider = admin_of(org), admin_of(new_org())
    receiver = WebhookReceiver(port=free_port())
    await receiver.start()
    js = nats_client.jetstream()
    r1, r2 = await announce_owned(js, org, "router"), await announce_owned(js, org, "router")
    try:
        hook = (await _create(observability_client, admin, routerId=r1, url=receiver.url))[
            "webhook"
        ]
        url = f"/observability/webhooks/{hook['id']}"
        for method, path in (
            ("GET", url),
            ("PATCH", url),
            ("DELETE", url),
            ("POST", f"{url}/rotate-secret"),
            ("GET", f"{url}/deliveries"),
        ):
            body = {"enabled": False} if method == "PATCH" else None
            response = await observability_client.request(method, path, headers=outsider, json=body)
            assert response.status_code == 404, (method, path, response.text)
        listed = await observability_client.get("/observability/webhooks", headers=outsider)
        assert listed.json()["total"] == 0

        disabled = await observability_client.patch(url, headers=admin, json={"enabled": False})
        assert disabled.status_code == 200 and disabled.json()["enabled"] is False
        rotated = await observability_client.post(f"{url}/rotate-secret", headers=admin)
        assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
        await publish(js, [completed(org, router_id=r1)])
        marker = completed(org, router_id=r2)
        second = (await _create(observability_client, admin, routerId=r2, url=receiver.url))[
            "webhook"
        ]
        await publish(js, [marker])
        await wait_for(lambda: receiver.received, timeout=10, message="the r2 delivery")
        assert receiver.event_ids() == [marker.event_id]  # nothing for the disabled one

        assert (await observability_client.delete(url, headers=admin)).status_code == 204
        assert (await observability_client.get(url, headers=admin)).status_code == 404
        mine = await observability_client.get(
            f"/observability/webhooks?routerId={r2}", headers=admin
        )
        assert [w["id"] for w in mine.json()["items"]] == [second["id"]]
    finally:
        await receiver.stop()


async def test_urls_to_private_addresses_and_bad_bodies_are_400(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    settings = load_settings(
        ObservabilitySettings,
        environ=settings_env(infrastructure, OUTBOUND_ALLOW_PRIVATE="false"),
    )
    org = new_org()
    admin = admin_of(org)
    router = await announce_owned(nats_client.jetstream(), org, "router")
    async with running(settings) as client:
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://10.0.0.7/hook",
            "ftp://hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "not a url",
            # Spellings httpx cannot deliver (InvalidURL, UnicodeEncodeError) or reads
            # otherwise: refused here rather than failing at every delivery.
            "http://0177.0.0.1/hook",
            "http://0x7f.1/hook",
            "http://2130706433/hook",
            "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/hook",
            "http://b\u00fccher.example/hook",
            "https://hooks.example.com./x",
        ):
            response = await client.post(
                "/observability/webhooks", headers=admin, json={"routerId": "r", "url": url}
            )
            assert response.status_code == 400, (url, response.text)
            assert "url" in response.json()["fields"], url
        for body, field in (
            ({"url": "https://hooks.example.com/x"}, "routerId"),
            ({"routerId": "r" * 101, "url": "https://hooks.example.com/x"}, "routerId"),
            (
                {"routerId": "r", "url": "https://hooks.example.com/x", "eventTypes": []},
                "eventTypes",
            ),
            (
                {"routerId": "r", "url": "https://hooks.example.com/x", "eventTypes": ["x"]},
                "eventTypes",
            ),
            ({"routerId": "r", "url": "https://hooks.example.com/x", "secret": "mine"}, "secret"),
        ):
            response = await client.post("/observability/webhooks", headers=admin, json=body)
            assert response.status_code == 400, (body, response.text)
            assert any(key.startswith(field) for key in response.json()["fields"]), response.json()
        created = await client.post(
            "/observability/webhooks",
            headers=admin,
            json={"routerId": router, "url": "https://hooks.example.com/x"},
        )
        assert created.status_code == 201, created.text
        patched = await client.patch(
            f"/observability/webhooks/{created.json()['webhook']['id']}",
            headers=admin,
            json={"url": "http://192.168.1.1/"},
        )
        assert patched.status_code == 400


async def test_a_routers_webhook_url_makes_moves_and_removes_its_webhook(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org = new_org()
    admin = admin_of(org)
    router_id = f"rtr_{org}"
    js = nats_client.jetstream()
    first, second = WebhookReceiver(port=free_port()), WebhookReceiver(port=free_port())
    await first.start()
    await second.start()

    async def configure(url: str | None) -> None:
        event = RouterConfigured(org_id=org, aggregate_id=router_id, webhook_url=url)
        body = msgspec.json.encode(event)
        await js.publish(event.type, body)
        await js.publish(event.type, body)  # delivered twice: applied once

    async def hooks() -> list[dict[str, Any]]:
        response = await observability_client.get(
            f"/observability/webhooks?routerId={router_id}", headers=admin
        )
        return list(response.json()["items"])

    try:
        await configure(first.url)
        [hook] = await wait_for(hooks, timeout=10, message="the router's webhook")
        assert (hook["managedBy"], hook["url"]) == ("router", first.url)
        url = f"/observability/webhooks/{hook['id']}"
        assert (await observability_client.delete(url, headers=admin)).status_code == 409
        moved = await observability_client.patch(url, headers=admin, json={"url": second.url})
        assert moved.status_code == 409
        secret = (await observability_client.post(f"{url}/rotate-secret", headers=admin)).json()[
            "secret"
        ]
        event = completed(org, router_id=router_id)
        await publish(js, [event])
        await wait_for(lambda: first.received, timeout=10, message="a delivery")
        assert verify_signature(
            secret,
            first.received[0].headers["x-hyperstrate-signature"],
            first.received[0].body,
            now=int(time.time()),
        )

        await configure(second.url)

        async def moved_to_second() -> bool:
            return [h["url"] for h in await hooks()] == [second.url]

        await wait_for(moved_to_second, timeout=10, message="the webhook moved")
        later = completed(org, router_id=router_id)
        await publish(js, [later])
        await wait_for(lambda: second.received, timeout=10, message="a delivery to the new URL")
        assert second.event_ids() == [later.event_id] and first.event_ids() == [event.event_id]

        await configure(None)

        async def removed() -> bool:
            return await hooks() == []

        await wait_for(removed, timeout=10, message="the webhook removed")
        await configure(first.url)  # and back again, on the same webhook id
        [again] = await wait_for(hooks, timeout=10, message="the webhook again")
        assert again["id"] == hook["id"]
        deleted = RouterDeleted(org_id=org, aggregate_id=router_id)
        await js.publish(deleted.type, msgspec.json.encode(deleted))
        await wait_for(removed, timeout=10, message="the webhook removed with its router")
    finally:
        await first.stop()
        await second.stop()


async def test_a_router_of_another_organisation_is_a_404_as_one_that_never_was(
    observability_client: Client, nats_client: NatsClient
) -> None:
    org, other_org = new_org(), new_org()
    js = nats_client.jetstream()
    theirs = await announce_owned(js, other_org, "router")
    mine = await announce_owned(js, org, "router")
    admin = admin_of(org)
    answers = []
    for router_id in (theirs, "rtr_0123456789abcdef0123456789abcdef"):
        response = await observability_client.post(
            "/observability/webhooks",
            headers=admin,
            json={"routerId": router_id, "url": "https://hooks.example.com/in"},
        )
        assert response.status_code == 404, response.text
        answers.append(response.json())
    assert (
        answers[0]
        == answers[1]
        == {
            "error": "router not found",
            "fields": {"routerId": ["no such router"]},
        }
    )
    assert (await observability_client.get("/observability/webhooks", headers=admin)).json()[
        "total"
    ] == 0
    # Its own router, just announced, and another organisation's for that one's admin.
    for router_id, headers in ((mine, admin), (theirs, admin_of(other_org))):
        created = await observability_client.post(
            "/observability/webhooks",
            headers=headers,
            json={"routerId": router_id, "url": "https://hooks.example.com/in"},
        )
        assert created.status_code == 201, created.text
    # A deleted router takes no new webhook.
    deleted = RouterDeleted(org_id=org, aggregate_id=mine)
    await js.publish(deleted.type, msgspec.json.encode(deleted))

    async def refused() -> bool:
        response = await observability_client.post(
            "/observability/webhooks",
            headers=admin,
            json={"routerId": mine, "url": "https://hooks.example.com/in"},
        )
        return response.status_code == 404

    await wait_for(refused, timeout=10, message="the deleted router refused")


async def test_a_stored_url_that_cannot_be_delivered_fails_its_deliveries_only(
    infrastructure: Infrastructure, nats_client: NatsClient
) -> None:
    settings = load_settings(
        ObservabilitySettings,
        environ=settings_env(
            infrastructure, WEBHOOK_MAX_ATTEMPTS="2", WEBHOOK_BACKOFF_SECONDS="0.1"
        ),
    )
    org = new_org()
    admin = admin_of(org)
    js = nats_client.jetstream()
    await fresh_inference_stream(js)
    router = await announce_owned(js, org, "router")
    receiver = WebhookReceiver(port=free_port())
    await receiver.start()
    # URLs an earlier guard let through, which httpx cannot send (InvalidURL, an IDNA
    # error, a UnicodeEncodeError in the Host header): written straight into the table.
    stored = [
        f"http://0177.0.0.1:{receiver.port}/",
        f"http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{receiver.port}/",
        f"http://b\u00fccher.example:{receiver.port}/",
    ]
    try:
        async with running(settings) as client:
            good = (await _create(client, admin, routerId=router, url=receiver.url))["webhook"]
            bad = [
                (await _create(client, admin, routerId=router, url=receiver.url))["webhook"]["id"]
                for _ in stored
            ]
            async with database_of(settings) as database, database.transaction() as session:
                for webhook_id, url in zip(bad, stored, strict=True):
                    await session.execute(
                        text("UPDATE webhooks SET url = :url WHERE id = :id"),
                        {"url": url, "id": webhook_id},
                    )
            first = completed(org, router_id=router)
            await publish(js, [first])

            async def all_dead() -> bool:
                for webhook_id in bad:
                    items = await _deliveries(client, admin, webhook_id, "&status=dead")
                    if len(items) != 1 or not items[0]["lastError"].startswith("url refused"):
                        return False
                return True

            await wait_for(all_dead, timeout=20, message="the undeliverable URLs dead-lettered")
            # The dispatcher is still at work: the good webhook gets this event and the next.
            second = completed(org, router_id=router)
            await publish(js, [second])
            await wait_for(
                lambda: len(receiver.received) >= 2, timeout=10, message="both deliveries"
            )
            assert receiver.event_ids() == [first.event_id, second.event_id]
            assert await _deliveries(client, admin, good["id"], "&status=delivered")
    finally:
        await receiver.stop()
