"""Bad input is a 400 naming the field, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from router_support import RouterApp, admin_of, create_router, new_org, post_ok, router_environ

from hyperstrate_contracts.router import FEATURE_TYPES
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name
from hyperstrate_router.app import create_app
from hyperstrate_router.settings import RouterSettings

Body = dict[str, Any]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "a\u0000b"}, "name"),
        ({"name": "r", "strategy": "fastest"}, "strategy"),
        ({"name": "r", "enabled": "yes"}, "enabled"),
        ({"name": "r", "description": "d" * 2001}, "description"),
        ({"name": "r", "targets": []}, "targets"),
        ({"description": "no name"}, "name"),
    ],
)
async def test_bad_router_bodies_name_the_field(
    router_app: RouterApp, body: Body, field: str
) -> None:
    response = await router_app.client.post("/routers", headers=admin_of(new_org()), json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"], response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "registrationId"),
        ({"registrationId": ""}, "registrationId"),
        ({"registrationId": "r" * 101}, "registrationId"),
        ({"registrationId": "reg_x", "weight": -1}, "weight"),
        ({"registrationId": "reg_x", "weight": 1.5}, "weight"),
        ({"registrationId": "reg_x", "weight": 10**12}, "weight"),
        ({"registrationId": "reg_x", "percentage": 101}, "percentage"),
        ({"registrationId": "reg_x", "percentage": -0.1}, "percentage"),
        ({"registrationId": "reg_x", "priority": "high"}, "priority"),
        ({"registrationId": "reg_x", "priority": 2**40}, "priority"),
        ({"registrationId": "reg_x", "model": "gpt"}, "model"),
    ],
)
async def test_bad_target_bodies_name_the_field(
    router_app: RouterApp, body: Body, field: str
) -> None:
    admin = admin_of(new_org())
    router = await create_router(router_app.client, admin)
    response = await router_app.client.post(
        f"/routers/{router['id']}/targets", headers=admin, json=body
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"], response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "teleport"}, "type"),
        ({}, "type"),
        ({"type": "retry", "config": []}, "config"),
        ({"type": "retry", "config": {"maxAttempts": 0}}, "config.maxAttempts"),
        ({"type": "retry", "config": {"maxAttempts": 11}}, "config.maxAttempts"),
        ({"type": "retry", "config": {"initialBackoffMs": -1}}, "config.initialBackoffMs"),
        (
            {"type": "retry", "config": {"initialBackoffMs": 500, "maxBackoffMs": 100}},
            "config.maxBackoffMs",
        ),
        ({"type": "retry", "config": {"retryOn": ["client_error"]}}, "config.retryOn[0]"),
        ({"type": "retry", "config": {"retryOn": ["timeout", "timeout"]}}, "config.retryOn[1]"),
        ({"type": "retry", "config": {"maxAttempt": 3}}, "config.maxAttempt"),
        ({"type": "response_cache", "config": {"ttlSeconds": 0}}, "config.ttlSeconds"),
        ({"type": "response_cache", "config": {"ttlSeconds": "60"}}, "config.ttlSeconds"),
        ({"type": "response_cache", "config": {"maxEntries": 0}}, "config.maxEntries"),
        ({"type": "fallback", "config": {"onErrors": ["nope"]}}, "config.onErrors[0]"),
        ({"type": "rate_limit", "config": {}}, "config.requestsPerSecond"),
        ({"type": "rate_limit", "config": {"requestsPerSecond": 0}}, "config.requestsPerSecond"),
        (
            {"type": "rate_limit", "config": {"requestsPerMinute": 60, "burst": 0}},
            "config.burst",
        ),
        ({"type": "budget", "config": {}}, "config.maxRequests"),
        ({"type": "budget", "config": {"maxRequests": -1}}, "config.maxRequests"),
        ({"type": "budget", "config": {"maxCostUsd": -1}}, "config.maxCostUsd"),
        (
            {"type": "budget", "config": {"maxCostUsd": 5, "resetPeriod": "hourly"}},
            "config.resetPeriod",
        ),
        (
            {"type": "structured_output", "config": {"maxRepairAttempts": 2}},
            "config.maxRepairAttempts",
        ),
        ({"type": "structured_output", "config": {"repair": "yes"}}, "config.repair"),
        ({"type": "health_check", "config": {"recheckSeconds": 0}}, "config.recheckSeconds"),
        (
            {"type": "semantic_cache", "config": {"similarityThreshold": 2}},
            "config.similarityThreshold",
        ),
        ({"type": "mcp_tools", "config": {"serverIds": ["a\u0000"]}}, "config.serverIds[0]"),
        ({"type": "hedging", "config": {"unknownKnob": 1}}, "config.unknownKnob"),
        ({"type": "retry", "enabled": "maybe"}, "enabled"),
    ],
)
async def test_bad_features_name_the_field(router_app: RouterApp, body: Body, field: str) -> None:
    admin = admin_of(new_org())
    router = await create_router(router_app.client, admin)
    response = await router_app.client.post(
        f"/routers/{router['id']}/features", headers=admin, json=body
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"], response.json()


async def test_feature_types_in_the_path_are_checked(router_app: RouterApp) -> None:
    client, admin = router_app.client, admin_of(new_org())
    router = await create_router(client, admin)
    base = f"/routers/{router['id']}/features"
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, f"{base}/teleport", headers=admin, json={})
        assert response.status_code == 400, (method, response.text)
        assert "featureType" in response.json()["fields"]
    bad = await client.put(f"{base}/retry", headers=admin, json={"config": {"maxAttempts": 0}})
    assert bad.status_code == 400 and "config.maxAttempts" in bad.json()["fields"]
    unknown = await client.put(f"{base}/retry", headers=admin, json={"type": "retry"})
    assert unknown.status_code == 400 and "type" in unknown.json()["fields"]
    # Every feature type is accepted with its defaults, except those that need a value.
    needs_a_value = {"rate_limit", "budget"}
    for feature_type in FEATURE_TYPES:
        response = await client.put(f"{base}/{feature_type}", headers=admin, json={})
        expected = 400 if feature_type in needs_a_value else 200
        assert response.status_code == expected, (feature_type, response.text)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "firewall"}, "type"),
        ({"type": "content_filter", "order": "first"}, "order"),
        ({"type": "content_filter", "config": {"action": "shout"}}, "config.action"),
        ({"type": "content_filter", "config": {"blockedTerms": [""]}}, "config.blockedTerms[0]"),
        ({"type": "content_filter", "config": {"blockedTerms": "x"}}, "config.blockedTerms"),
        ({"type": "pii_detector", "config": {"entities": ["dna"]}}, "config.entities[0]"),
        (
            {"type": "prompt_guard", "config": {"blockedPatterns": ["("]}},
            "config.blockedPatterns[0]",
        ),
        ({"type": "ab_test", "config": {}}, "config.variants"),
        ({"type": "ab_test", "config": {"variants": []}}, "config.variants"),
        (
            {
                "type": "ab_test",
                "config": {"variants": [{"name": "a", "targetId": "t", "weight": -1}]},
            },
            "config.variants[0].weight",
        ),
        (
            {
                "type": "ab_test",
                "config": {"variants": [{"name": "a", "targetId": "t", "weight": 0}]},
            },
            "config.variants",
        ),
        (
            {"type": "ab_test", "config": {"variants": [{"name": "a"}]}},
            "config.variants[0].targetId",
        ),
        ({"type": "team_budget", "config": {}}, "config.maxRequests"),
        (
            {"type": "team_budget", "config": {"maxCostUsd": 1, "resetPeriod": "yearly"}},
            "config.resetPeriod",
        ),
        ({"type": "semantic_classifier", "config": {"threshold": 1.5}}, "config.threshold"),
        ({"type": "prompt_shield", "config": {"sensitivity": "extreme"}}, "config.sensitivity"),
    ],
)
async def test_bad_interceptors_name_the_field(
    router_app: RouterApp, body: Body, field: str
) -> None:
    admin = admin_of(new_org())
    router = await create_router(router_app.client, admin)
    response = await router_app.client.post(
        f"/routers/{router['id']}/interceptors", headers=admin, json=body
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"], response.json()


async def test_interceptor_updates_are_validated_against_their_type(router_app: RouterApp) -> None:
    client, admin = router_app.client, admin_of(new_org())
    router = await create_router(client, admin)
    base = f"/routers/{router['id']}/interceptors"
    interceptor = await post_ok(client, base, admin, {"type": "content_filter"})
    url = f"{base}/{interceptor['id']}"
    for body, field in (
        ({"config": {"variants": []}}, "config.variants"),  # an ab_test key on a content filter
        ({"type": "ab_test"}, "type"),  # the type never changes
        ({"order": 10**9}, "order"),
    ):
        response = await client.patch(url, headers=admin, json=body)
        assert response.status_code == 400, response.text
        assert field in response.json()["fields"], response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"webhookUrl": "ftp://hooks.example.com/x"}, "webhookUrl"),
        ({"webhookUrl": "not a url"}, "webhookUrl"),
        ({"webhookUrl": "http://127.0.0.1:9000/hook"}, "webhookUrl"),
        ({"webhookUrl": "http://169.254.169.254/latest/meta-data"}, "webhookUrl"),
        ({"webhookUrl": "http://localhost/hook"}, "webhookUrl"),
        ({"webhookUrl": "https://user:pw@hooks.example.com/"}, "webhookUrl"),
        ({"webhookUrl": "https://hooks.example.com/" + "x" * 2100}, "webhookUrl"),
        ({"webhookUrl": ""}, "webhookUrl"),
        ({"promptId": "p" * 101}, "promptId"),
        ({"promptId": ""}, "promptId"),
        ({"storePayloads": "perhaps"}, "storePayloads"),
        ({"webhook": "https://hooks.example.com/"}, "webhook"),
    ],
)
async def test_bad_configurations_name_the_field(
    router_app: RouterApp, body: Body, field: str
) -> None:
    admin = admin_of(new_org())
    router = await create_router(router_app.client, admin)
    response = await router_app.client.put(
        f"/routers/{router['id']}/configuration", headers=admin, json=body
    )
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"], response.json()


async def test_a_null_webhook_and_prompt_are_allowed(router_app: RouterApp) -> None:
    client, admin = router_app.client, admin_of(new_org())
    router = await create_router(client, admin)
    url = f"/routers/{router['id']}/configuration"
    default = (await client.get(url, headers=admin)).json()
    assert default == {
        "routerId": router["id"],
        "webhookUrl": None,
        "promptId": None,
        "storePayloads": False,
        "updatedAt": None,
    }
    response = await client.put(url, headers=admin, json={"webhookUrl": None, "promptId": None})
    assert response.status_code == 200 and response.json()["updatedAt"] is not None


async def test_path_params_and_filters_are_checked(router_app: RouterApp) -> None:
    client, admin = router_app.client, admin_of(new_org())
    router = await create_router(client, admin)
    long_id = "r" * 101
    base = f"/routers/{router['id']}"
    for method, path in (
        ("GET", f"/routers/{long_id}"),
        ("PATCH", f"/routers/{long_id}"),
        ("DELETE", f"/routers/{long_id}"),
        ("GET", f"/routers/{long_id}/targets"),
        ("GET", f"{base}/targets/{long_id}"),
        ("DELETE", f"{base}/targets/{long_id}"),
        ("GET", f"{base}/features/{long_id}"),
        ("GET", f"{base}/interceptors/{long_id}"),
        ("GET", f"/routers/{long_id}/configuration"),
        ("PUT", f"/routers/{long_id}/configuration"),
        ("GET", "/routers/a%00b"),
        ("GET", f"{base}/targets/a%00b"),
        ("GET", f"{base}/targets?registrationId={long_id}"),
        ("GET", f"{base}/targets?registrationId=a%00"),
        ("GET", f"{base}/targets?enabled=maybe"),
        ("GET", f"{base}/interceptors?type=firewall"),
        ("GET", "/routers?strategy=fastest"),
        ("GET", "/routers?perPage=501"),
        ("GET", "/routers?page=0"),
    ):
        response = await client.request(method, path, headers=admin, json={})
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"], response.text


async def test_unreadable_bodies_are_400(router_app: RouterApp) -> None:
    client, admin = router_app.client, admin_of(new_org())
    headers = {**admin, "Content-Type": "application/json"}
    for content in (b"{", b"[]", b'{"name": "x\\ud800"}', b'{"name": "\xff"}', b"null"):
        response = await client.post("/routers", headers=headers, content=content)
        assert response.status_code == 400, (content, response.status_code, response.text)


async def test_private_webhooks_are_allowed_when_the_operator_says_so(
    infrastructure: Infrastructure,
) -> None:
    environ = {
        **router_environ(infrastructure, unique_name("routerprivate")),
        "OUTBOUND_ALLOW_PRIVATE": "true",
    }
    app = create_app(load_settings(RouterSettings, environ=environ))
    admin = admin_of(new_org())
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        router = await create_router(client, admin)
        configuration = f"/routers/{router['id']}/configuration"
        local = {"webhookUrl": "http://127.0.0.1:9000/hook"}
        response = await client.put(configuration, headers=admin, json=local)
        assert response.status_code == 200, response.text
        # The scheme and credential checks still apply.
        for webhook in ("file:///etc/passwd", "http://user:pw@127.0.0.1/"):
            refused = await client.put(configuration, headers=admin, json={"webhookUrl": webhook})
            assert refused.status_code == 400 and "webhookUrl" in refused.json()["fields"]
