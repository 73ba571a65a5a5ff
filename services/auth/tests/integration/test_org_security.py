"""Organisation isolation: another organisation's resource is a 404, lists never show it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from auth_support import ADMIN_PASSWORD, bearer, operator_org, publish_router, setup_admin

from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.testing import Infrastructure, wait_for

Client = httpx.AsyncClient

# (collection, PATCH body or None when the resource has no update, delete status)
RESOURCES = [
    ("users", {"name": "renamed"}),
    ("teams", {"name": "renamed"}),
    ("api-keys", None),
    ("virtual-keys", {"name": "renamed"}),
]


async def _two_organizations(
    client: Client, settings: AuthSettings
) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """Org A with one of everything, and org B's admin headers."""
    admin_a = bearer(await setup_admin(client))
    await operator_org(settings, "Org B", "admin@b.example")
    session_b = (
        await client.post(
            "/auth/login", json={"email": "admin@b.example", "password": ADMIN_PASSWORD}
        )
    ).json()
    admin_b = bearer(session_b)
    a: dict[str, Any] = {"org": (await client.get("/auth/me", headers=admin_a)).json()["orgId"]}
    a["teams"] = (
        await client.post("/auth/teams", headers=admin_a, json={"name": "A team"})
    ).json()["id"]
    a["users"] = (
        await client.post(
            "/auth/users",
            headers=admin_a,
            json={"email": "m@a.example", "password": ADMIN_PASSWORD, "name": "M"},
        )
    ).json()["id"]
    a["api-keys"] = (
        await client.post("/auth/api-keys", headers=admin_a, json={"name": "k"})
    ).json()["apiKey"]["id"]
    a["virtual-keys"] = (
        await client.post(
            "/auth/virtual-keys", headers=admin_a, json={"name": "v", "teamId": a["teams"]}
        )
    ).json()["virtualKey"]["id"]
    assert session_b["user"]["orgId"] != a["org"]
    return admin_a, admin_b, a


@pytest.mark.parametrize(("collection", "patch_body"), RESOURCES)
async def test_other_org_resources_are_404_for_read_update_delete(
    auth_client: Client,
    auth_settings: AuthSettings,
    collection: str,
    patch_body: dict[str, str] | None,
) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client, auth_settings)
    url = f"/auth/{collection}/{a[collection]}"

    assert (await auth_client.get(url, headers=admin_b)).status_code == 404
    if patch_body is not None:
        assert (await auth_client.patch(url, headers=admin_b, json=patch_body)).status_code == 404
    assert (await auth_client.delete(url, headers=admin_b)).status_code == 404
    listed = (await auth_client.get(f"/auth/{collection}", headers=admin_b)).json()
    assert a[collection] not in {item["id"] for item in listed["items"]}
    # ...and it is all still there for its own organisation.
    assert (await auth_client.get(url, headers=admin_a)).status_code == 200


async def test_other_organization_itself_is_404(
    auth_client: Client, auth_settings: AuthSettings
) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client, auth_settings)
    url = f"/auth/organizations/{a['org']}"
    assert (await auth_client.get(url, headers=admin_b)).status_code == 404
    assert (await auth_client.patch(url, headers=admin_b, json={"name": "x"})).status_code == 404
    assert (await auth_client.delete(url, headers=admin_b)).status_code == 404
    listed = (await auth_client.get("/auth/organizations", headers=admin_b)).json()
    assert [org["name"] for org in listed["items"]] == ["Org B"]
    assert (await auth_client.get(url, headers=admin_a)).json()["name"] == "Org A"


async def test_cross_org_references_and_router_grants_are_refused(
    auth_client: Client, auth_settings: AuthSettings, infrastructure: Infrastructure
) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client, auth_settings)
    router_a = await publish_router(infrastructure, a["org"])
    # B cannot put its users or keys into A's team.
    user = await auth_client.post(
        "/auth/users",
        headers=admin_b,
        json={
            "email": "x@b.example",
            "password": ADMIN_PASSWORD,
            "name": "X",
            "teamId": a["teams"],
        },
    )
    assert user.status_code == 400 and "teamId" in user.json()["fields"]
    key = await auth_client.post(
        "/auth/virtual-keys", headers=admin_b, json={"name": "v", "teamId": a["teams"]}
    )
    assert key.status_code == 400
    # A grants its router to its team...
    granted = await auth_client.post(
        f"/auth/routers/{router_a}/teams", headers=admin_a, json={"teamId": a["teams"]}
    )
    assert granted.status_code == 201, granted.text
    # ...and to B, A's router is exactly a router that does not exist.
    for router_id in (router_a, "rtr_never_existed"):
        url = f"/auth/routers/{router_id}/teams"
        listed = await auth_client.get(url, headers=admin_b)
        assert (listed.status_code, listed.json()["error"]) == (404, "router not found")
        grant = await auth_client.post(url, headers=admin_b, json={"teamId": a["teams"]})
        assert (grant.status_code, grant.json()) == (404, listed.json())
        revoke = await auth_client.delete(f"{url}/{a['teams']}", headers=admin_b)
        assert revoke.status_code == 404
    assert len((await auth_client.get(f"/auth/routers/{router_a}/teams", headers=admin_a)).json())


async def test_keys_are_scoped_to_the_organizations_own_routers_only(
    auth_client: Client, auth_settings: AuthSettings, infrastructure: Infrastructure
) -> None:
    _, admin_b, a = await _two_organizations(auth_client, auth_settings)
    router_a = await publish_router(infrastructure, a["org"])
    b_org = (await auth_client.get("/auth/me", headers=admin_b)).json()["orgId"]
    router_b = await publish_router(infrastructure, b_org)
    for path, body in (
        ("/auth/api-keys", {"name": "k", "routerIds": [router_b, router_a]}),
        ("/auth/virtual-keys", {"name": "v", "routerIds": [router_b, router_a]}),
    ):
        refused = await auth_client.post(path, headers=admin_b, json=body)
        assert refused.status_code == 400, refused.text
        assert refused.json()["fields"] == {
            "routerIds": [f"no such router in this organization: {router_a}"]
        }
        own = await auth_client.post(path, headers=admin_b, json={**body, "routerIds": [router_b]})
        assert own.status_code == 201, own.text
    vk = own.json()["virtualKey"]["id"]
    moved = await auth_client.patch(
        f"/auth/virtual-keys/{vk}", headers=admin_b, json={"routerIds": [router_a]}
    )
    assert moved.status_code == 400 and "routerIds" in moved.json()["fields"]
    # A router deleted by its owner can no longer be named either.
    await publish_router(infrastructure, b_org, router_b, deleted=True)

    async def refused_once_deleted() -> bool:
        late = await auth_client.post(
            "/auth/api-keys", headers=admin_b, json={"name": "late", "routerIds": [router_b]}
        )
        return late.status_code == 400

    await wait_for(refused_once_deleted, timeout=5, message="the deleted router refused")


async def test_tenant_admins_cannot_create_organizations(
    auth_client: Client, auth_settings: AuthSettings
) -> None:
    admin_a, admin_b, _ = await _two_organizations(auth_client, auth_settings)
    for admin in (admin_a, admin_b):
        refused = await auth_client.post(
            "/auth/organizations",
            headers=admin,
            json={"name": "Mine", "adminEmail": "me@c.example", "adminPassword": ADMIN_PASSWORD},
        )
        assert refused.status_code == 403
        assert "python -m hyperstrate_auth.cli create-org" in refused.json()["error"]
    for admin in (admin_a, admin_b):
        listed = (await auth_client.get("/auth/organizations", headers=admin)).json()
        assert listed["total"] == 1


async def test_deleting_an_organization_removes_its_access(
    auth_client: Client, auth_settings: AuthSettings
) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client, auth_settings)
    me_b = (await auth_client.get("/auth/me", headers=admin_b)).json()
    assert (
        await auth_client.delete(f"/auth/organizations/{me_b['orgId']}", headers=admin_b)
    ).status_code == 204
    login = await auth_client.post(
        "/auth/login", json={"email": "admin@b.example", "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 401
    assert (await auth_client.get(f"/auth/teams/{a['teams']}", headers=admin_a)).status_code == 200
