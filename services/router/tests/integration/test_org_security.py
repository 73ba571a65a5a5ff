"""Organisation isolation: another organisation's router, or anything it owns, is a 404 for
read, update and delete, and never shows in a list."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from router_support import RouterApp, admin_of, create_router, new_org, post_ok

Headers = dict[str, str]


async def _org_a_with_one_of_everything(router_app: RouterApp) -> tuple[Headers, dict[str, Any]]:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    registration = await router_app.register_model(org)
    router = await create_router(client, admin, name="a-router")
    base = f"/routers/{router['id']}"
    target = await post_ok(client, f"{base}/targets", admin, {"registrationId": registration})
    await post_ok(client, f"{base}/features", admin, {"type": "retry"})
    interceptor = await post_ok(client, f"{base}/interceptors", admin, {"type": "prompt_guard"})
    configured = await client.put(
        f"{base}/configuration", headers=admin, json={"promptId": "prm_a", "storePayloads": True}
    )
    assert configured.status_code == 200
    ids = {"router": router["id"], "target": target["id"], "interceptor": interceptor["id"]}
    return admin, ids


def _urls(ids: dict[str, Any]) -> dict[str, str]:
    base = f"/routers/{ids['router']}"
    return {
        "router": base,
        "target": f"{base}/targets/{ids['target']}",
        "feature": f"{base}/features/retry",
        "interceptor": f"{base}/interceptors/{ids['interceptor']}",
        "configuration": f"{base}/configuration",
    }


# (resource, how to change it, body of the change, whether it can be deleted)
CHANGES = [
    ("router", "PATCH", {"name": "taken over"}, True),
    ("target", "PATCH", {"weight": 7}, True),
    ("feature", "PUT", {"config": {"maxAttempts": 9}}, True),
    ("interceptor", "PATCH", {"order": 5}, True),
    ("configuration", "PUT", {"webhookUrl": "https://evil.example.com/hook"}, False),
]


@pytest.mark.parametrize(("resource", "method", "body", "deletable"), CHANGES)
async def test_other_org_resources_are_404_for_read_update_delete(
    router_app: RouterApp, resource: str, method: str, body: dict[str, Any], deletable: bool
) -> None:
    client = router_app.client
    admin_a, ids = await _org_a_with_one_of_everything(router_app)
    admin_b = admin_of(new_org())
    url = _urls(ids)[resource]
    before = (await client.get(url, headers=admin_a)).json()

    assert (await client.get(url, headers=admin_b)).status_code == 404
    changed = await client.request(method, url, headers=admin_b, json=body)
    assert changed.status_code == 404, changed.text
    if deletable:
        assert (await client.delete(url, headers=admin_b)).status_code == 404
    # ...and it is all still there, unchanged, for its own organisation.
    assert (await client.get(url, headers=admin_a)).json() == before


async def test_other_org_lists_and_creations_are_404(router_app: RouterApp) -> None:
    client = router_app.client
    admin_a, ids = await _org_a_with_one_of_everything(router_app)
    org_b = new_org()
    admin_b = admin_of(org_b)
    registration_b = await router_app.register_model(org_b)
    base = f"/routers/{ids['router']}"

    assert (await client.get("/routers", headers=admin_b)).json()["items"] == []
    for collection in ("targets", "features", "interceptors"):
        listed = await client.get(f"{base}/{collection}", headers=admin_b)
        assert listed.status_code == 404, collection
    for collection, body in (
        ("targets", {"registrationId": registration_b}),
        ("features", {"type": "budget", "config": {"maxRequests": 1}}),
        ("interceptors", {"type": "content_filter"}),
    ):
        created = await client.post(f"{base}/{collection}", headers=admin_b, json=body)
        assert created.status_code == 404, (collection, created.text)
    assert (
        await client.put(f"{base}/features/hedging", headers=admin_b, json={})
    ).status_code == 404

    # A's lists are untouched by B's attempts.
    assert (await client.get(f"{base}/targets", headers=admin_a)).json()["total"] == 1
    assert (await client.get(f"{base}/features", headers=admin_a)).json()["total"] == 1
    assert (await client.get(f"{base}/interceptors", headers=admin_a)).json()["total"] == 1


async def test_ids_of_another_org_under_an_own_router_are_404(router_app: RouterApp) -> None:
    client = router_app.client
    _, ids = await _org_a_with_one_of_everything(router_app)
    admin_b = admin_of(new_org())
    own = await create_router(client, admin_b)
    for path in (f"targets/{ids['target']}", f"interceptors/{ids['interceptor']}"):
        url = f"/routers/{own['id']}/{path}"
        assert (await client.get(url, headers=admin_b)).status_code == 404
        assert (await client.patch(url, headers=admin_b, json={})).status_code == 404
        assert (await client.delete(url, headers=admin_b)).status_code == 404


async def test_the_same_name_in_two_organizations_stays_apart(router_app: RouterApp) -> None:
    client: httpx.AsyncClient = router_app.client
    admin_a, ids = await _org_a_with_one_of_everything(router_app)
    admin_b = admin_of(new_org())
    b = await create_router(client, admin_b, name="a-router")
    assert b["id"] != ids["router"]
    names_a = [r["id"] for r in (await client.get("/routers", headers=admin_a)).json()["items"]]
    names_b = [r["id"] for r in (await client.get("/routers", headers=admin_b)).json()["items"]]
    assert names_a == [ids["router"]] and names_b == [b["id"]]
