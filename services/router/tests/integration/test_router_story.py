"""The router story an admin goes through: create a router, add targets, set features and
interceptors, configure it, read it all back; the ROUTER events on JetStream carry what was
set. Real HTTP, real NATS and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
from router_support import RouterApp, admin_of, create_router, new_org, post_ok

from hyperstrate_contracts.router import RouterFeatureSet, router_registry
from hyperstrate_kit.testing import wait_for
from hyperstrate_router.domain.features import SemanticCacheConfig, parse_feature_config

REGISTRY = router_registry()


async def _last_event(router_app: RouterApp, subject: str, router_id: str) -> dict[str, Any]:
    """The last event on `subject` in the ROUTER stream, once it is one of `router_id`."""
    js = router_app.nc.jetstream()

    async def published() -> dict[str, Any] | None:
        try:
            message = await js.get_last_msg("ROUTER", subject)
        except Exception:  # not published yet
            return None
        if not message.data:
            return None
        data: dict[str, Any] = msgspec.json.decode(message.data)
        return data if data["aggregate_id"] == router_id else None

    found: dict[str, Any] = await wait_for(published, message=f"{subject} of {router_id}")
    return found


async def test_router_story(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    primary = await router_app.register_model(org, "primary")
    backup = await router_app.register_model(org, "backup")

    router = await create_router(
        client, admin, name="support", description="support bot", strategy="failover"
    )
    assert router["strategy"] == "failover" and router["enabled"] is True
    assert router["orgId"] == org and router["id"].startswith("rtr_")
    base = f"/routers/{router['id']}"

    first = await post_ok(
        client, f"{base}/targets", admin, {"registrationId": primary, "priority": 0, "weight": 3}
    )
    second = await post_ok(
        client, f"{base}/targets", admin, {"registrationId": backup, "priority": 1}
    )
    again = await client.post(f"{base}/targets", headers=admin, json={"registrationId": primary})
    assert again.status_code == 409 and "registrationId" in again.json()["fields"]
    moved = await client.patch(
        f"{base}/targets/{second['id']}", headers=admin, json={"priority": 5, "weight": 0}
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["priority"] == 5 and moved.json()["registrationId"] == backup

    retry = await client.put(
        f"{base}/features/retry",
        headers=admin,
        json={"config": {"maxAttempts": 4, "retryOn": ["timeout", "server_error"]}},
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["config"] == {
        "maxAttempts": 4,
        "initialBackoffMs": 200,
        "maxBackoffMs": 5000,
        "retryOn": ["timeout", "server_error"],
    }
    cache = await post_ok(
        client,
        f"{base}/features",
        admin,
        {"type": "response_cache", "config": {"ttlSeconds": 60}, "enabled": False},
    )
    assert cache["config"] == {"ttlSeconds": 60, "maxEntries": 10000} and not cache["enabled"]
    twice = await client.post(
        f"{base}/features", headers=admin, json={"type": "response_cache", "config": {}}
    )
    assert twice.status_code == 409 and "type" in twice.json()["fields"]
    # PUT replaces the whole feature, keeping its id.
    replaced = await client.put(
        f"{base}/features/response_cache", headers=admin, json={"config": {"maxEntries": 5}}
    )
    assert replaced.json()["id"] == cache["id"]
    assert replaced.json()["config"] == {"ttlSeconds": 300, "maxEntries": 5}
    assert replaced.json()["enabled"] is True
    await post_ok(client, f"{base}/features", admin, {"type": "semantic_cache"})
    removed = await client.delete(f"{base}/features/semantic_cache", headers=admin)
    assert removed.status_code == 204
    gone = await client.get(f"{base}/features/semantic_cache", headers=admin)
    assert gone.status_code == 404

    ab_test = await post_ok(
        client,
        f"{base}/interceptors",
        admin,
        {
            "type": "ab_test",
            "order": 2,
            "config": {
                "variants": [
                    {"name": "a", "targetId": first["id"], "weight": 9},
                    {"name": "b", "targetId": second["id"]},
                ]
            },
        },
    )
    content = await post_ok(
        client,
        f"{base}/interceptors",
        admin,
        {"type": "content_filter", "order": 1, "config": {"blockedTerms": ["secret"]}},
    )
    assert content["config"]["action"] == "block"
    reordered = await client.patch(
        f"{base}/interceptors/{ab_test['id']}", headers=admin, json={"order": 0, "enabled": False}
    )
    assert reordered.status_code == 200, reordered.text
    assert reordered.json()["config"] == ab_test["config"]  # untouched without `config`

    configured = await client.put(
        f"{base}/configuration",
        headers=admin,
        json={
            "webhookUrl": "https://hooks.example.com/router",
            "promptId": "prm_1",
            "storePayloads": True,
        },
    )
    assert configured.status_code == 200, configured.text

    # Read it all back.
    detail = (await client.get(base, headers=admin)).json()
    assert detail["name"] == "support" and detail["description"] == "support bot"
    assert [t["registrationId"] for t in detail["targets"]] == [primary, backup]  # by priority
    assert [f["type"] for f in detail["features"]] == ["response_cache", "retry"]
    assert [i["type"] for i in detail["interceptors"]] == ["ab_test", "content_filter"]
    assert detail["configuration"] == {
        "routerId": router["id"],
        "webhookUrl": "https://hooks.example.com/router",
        "promptId": "prm_1",
        "storePayloads": True,
        "updatedAt": detail["configuration"]["updatedAt"],
    }
    targets = (await client.get(f"{base}/targets?perPage=1", headers=admin)).json()
    assert targets["total"] == 2 and targets["perPage"] == 1
    assert [t["id"] for t in targets["items"]] == [first["id"]]
    enabled = (await client.get(f"{base}/interceptors?enabled=true", headers=admin)).json()
    assert [i["id"] for i in enabled["items"]] == [content["id"]]
    listed = (await client.get("/routers?strategy=failover", headers=admin)).json()
    assert [r["id"] for r in listed["items"]] == [router["id"]]

    # The ROUTER stream carries what was set: the hot path builds its routers from it.
    created = await _last_event(router_app, "router.router.created", router["id"])
    assert created["org_id"] == org and created["strategy"] == "failover"
    target = await _last_event(router_app, "router.target.updated", router["id"])
    assert target["target_id"] == second["id"] and target["priority"] == 5
    assert target["registration_id"] == backup and target["weight"] == 0
    feature = await _last_event(router_app, "router.feature.set", router["id"])
    assert feature["feature_type"] == "semantic_cache"  # set last, with every default
    assert feature["config"] == {
        "similarityThreshold": 0.95,
        "ttlSeconds": 3600,
        "maxEntries": 10000,
        "embeddingRegistrationId": None,
    }
    removed_feature = await _last_event(router_app, "router.feature.removed", router["id"])
    assert removed_feature["feature_type"] == "semantic_cache"
    interceptor = await _last_event(router_app, "router.interceptor.set", router["id"])
    assert interceptor["interceptor_id"] == ab_test["id"] and interceptor["order"] == 0
    assert interceptor["enabled"] is False
    configuration = await _last_event(router_app, "router.configuration.updated", router["id"])
    assert configuration["webhook_url"] == "https://hooks.example.com/router"
    assert configuration["prompt_id"] == "prm_1" and configuration["store_payloads"] is True
    # ...and what the pipeline parses back from an event is the typed config that was set.
    event = REGISTRY.decode("router.feature.set", feature)
    assert isinstance(event, RouterFeatureSet)
    parsed = parse_feature_config(event.feature_type, event.config)
    assert parsed == SemanticCacheConfig()


async def test_deleting_a_router_removes_what_it_owns(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    registration = await router_app.register_model(org)
    router = await create_router(client, admin)
    base = f"/routers/{router['id']}"
    await post_ok(client, f"{base}/targets", admin, {"registrationId": registration})
    await post_ok(client, f"{base}/features", admin, {"type": "health_check"})
    await post_ok(client, f"{base}/interceptors", admin, {"type": "pii_detector"})
    await client.put(f"{base}/configuration", headers=admin, json={"storePayloads": True})

    assert (await client.delete(base, headers=admin)).status_code == 204
    for path in (base, f"{base}/targets", f"{base}/features", f"{base}/configuration"):
        assert (await client.get(path, headers=admin)).status_code == 404, path
    assert (await client.get("/routers", headers=admin)).json()["total"] == 0
    deleted = await _last_event(router_app, "router.router.deleted", router["id"])
    assert deleted["org_id"] == org

    # Nothing of it is left behind in the read models.
    database = router_app.environ["DATABASE_NAME"]
    dsn = router_app.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + database
    conn = await asyncpg.connect(dsn)
    try:
        for table in (
            "routers",
            "router_targets",
            "router_features",
            "router_interceptors",
            "router_configurations",
        ):
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0, table
    finally:
        await conn.close()


async def test_names_are_unique_per_organization(router_app: RouterApp) -> None:
    client = router_app.client
    admin_a, admin_b = admin_of(new_org()), admin_of(new_org())
    await create_router(client, admin_a, name="shared")
    await create_router(client, admin_b, name="shared")  # another organisation: fine
    again = await client.post("/routers", headers=admin_a, json={"name": "shared"})
    assert again.status_code == 409 and again.json()["fields"] == {
        "name": ["already used by another router"]
    }
    other = await create_router(client, admin_a, name="other")
    renamed = await client.patch(
        f"/routers/{other['id']}", headers=admin_a, json={"name": "shared"}
    )
    assert renamed.status_code == 409
    same = await client.patch(f"/routers/{other['id']}", headers=admin_a, json={"name": "other"})
    assert same.status_code == 200


async def test_percentages_of_enabled_targets_stay_within_100(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    registrations = [await router_app.register_model(org, f"m{i}") for i in range(4)]
    router = await create_router(client, admin, strategy="percentage")
    base = f"/routers/{router['id']}/targets"
    a = await post_ok(client, base, admin, {"registrationId": registrations[0], "percentage": 60})
    await post_ok(client, base, admin, {"registrationId": registrations[1], "percentage": 40})

    over = await client.post(
        base, headers=admin, json={"registrationId": registrations[2], "percentage": 0.5}
    )
    assert over.status_code == 400 and "percentage" in over.json()["fields"], over.text
    # A disabled target does not count...
    c = await post_ok(
        client,
        base,
        admin,
        {"registrationId": registrations[2], "percentage": 50, "enabled": False},
    )
    # ...until it is enabled.
    enabling = await client.patch(f"{base}/{c['id']}", headers=admin, json={"enabled": True})
    assert enabling.status_code == 400 and "percentage" in enabling.json()["fields"]
    lowered = await client.patch(f"{base}/{a['id']}", headers=admin, json={"percentage": 10})
    assert lowered.status_code == 200
    assert (
        await client.patch(f"{base}/{c['id']}", headers=admin, json={"enabled": True})
    ).status_code == 200

    # Another strategy ignores percentages; switching back to `percentage` checks them again.
    weighted = await create_router(client, admin, strategy="weighted")
    wbase = f"/routers/{weighted['id']}/targets"
    for registration in registrations[:3]:
        await post_ok(client, wbase, admin, {"registrationId": registration, "percentage": 50})
    switch = await client.patch(
        f"/routers/{weighted['id']}", headers=admin, json={"strategy": "percentage"}
    )
    assert switch.status_code == 400 and "strategy" in switch.json()["fields"]


async def test_targets_name_registrations_of_the_organization(router_app: RouterApp) -> None:
    client, org, other_org = router_app.client, new_org(), new_org()
    admin = admin_of(org)
    mine = await router_app.register_model(org)
    theirs = await router_app.register_model(other_org)
    router = await create_router(client, admin)
    base = f"/routers/{router['id']}/targets"

    for registration in (theirs, "reg_unknown"):
        refused = await client.post(base, headers=admin, json={"registrationId": registration})
        assert refused.status_code == 400, refused.text
        assert "registrationId" in refused.json()["fields"]
    target = await post_ok(client, base, admin, {"registrationId": mine})
    switched = await client.patch(
        f"{base}/{target['id']}", headers=admin, json={"registrationId": theirs}
    )
    assert switched.status_code == 400 and "registrationId" in switched.json()["fields"]

    await router_app.unregister_model(org, mine)
    gone = await client.post(
        f"/routers/{(await create_router(client, admin))['id']}/targets",
        headers=admin,
        json={"registrationId": mine},
    )
    assert gone.status_code == 400


async def test_interceptor_configs_name_targets_of_the_router(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    router = await create_router(client, admin)
    body = {"type": "ab_test", "config": {"variants": [{"name": "a", "targetId": "tgt_nope"}]}}
    response = await client.post(f"/routers/{router['id']}/interceptors", headers=admin, json=body)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["config.variants[0].targetId"]


async def test_members_are_refused(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    member = admin_of(org, role="member")
    assert (await client.get("/routers", headers=member)).status_code == 403
    assert (await client.get("/routers")).status_code == 401


async def test_concurrent_changes_are_serialised(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    registrations = [await router_app.register_model(org, f"m{i}") for i in range(4)]
    router = await create_router(client, admin, strategy="percentage")
    base = f"/routers/{router['id']}/targets"
    responses = await asyncio.gather(
        *(
            client.post(base, headers=admin, json={"registrationId": r, "percentage": 40})
            for r in registrations
        )
    )
    # Each add saw the ones before it: two fit in 100%, the others are refused, none lost.
    assert sorted(r.status_code for r in responses) == [201, 201, 400, 400]
    assert (await client.get(base, headers=admin)).json()["total"] == 2
    names = await asyncio.gather(
        *(client.post("/routers", headers=admin, json={"name": "twin"}) for _ in range(3))
    )
    assert sorted(r.status_code for r in names) == [201, 409, 409]


async def test_openapi_documents_the_admin_operations(router_app: RouterApp) -> None:
    response = await router_app.client.get("/swagger/openapi.json")
    assert response.status_code == 200, response.text
    operations = {
        operation["operationId"]
        for path in response.json()["paths"].values()
        for operation in path.values()
    }
    assert {
        "ListRouters", "CreateRouter", "GetRouter", "UpdateRouter", "DeleteRouter",
        "ListRouterTargets", "AddRouterTarget", "GetRouterTarget", "UpdateRouterTarget",
        "RemoveRouterTarget", "ListRouterFeatures", "AddRouterFeature", "GetRouterFeature",
        "SetRouterFeature", "RemoveRouterFeature", "ListRouterInterceptors",
        "AddRouterInterceptor", "GetRouterInterceptor", "UpdateRouterInterceptor",
        "RemoveRouterInterceptor", "GetRouterConfiguration", "ConfigureRouter",
    } <= operations  # fmt: skip
