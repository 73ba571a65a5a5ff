"""Organisation isolation: another organisation's resource is a 404, lists never show it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from auth_support import ADMIN_PASSWORD, bearer, setup_admin

Client = httpx.AsyncClient

# (collection, PATCH body or None when the resource has no update, delete status)
RESOURCES = [
    ("users", {"name": "renamed"}),
    ("teams", {"name": "renamed"}),
    ("api-keys", None),
    ("virtual-keys", {"name": "renamed"}),
]


async def _two_organizations(
    client: Client,
) -> tuple[dict[str, str], dict[str, str], dict[str, Any]]:
    """Org A with one of everything, and org B's admin headers."""
    admin_a = bearer(await setup_admin(client))
    created = await client.post(
        "/auth/organizations",
        headers=admin_a,
        json={"name": "Org B", "adminEmail": "admin@b.example", "adminPassword": ADMIN_PASSWORD},
    )
    assert created.status_code == 201
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
    auth_client: Client, collection: str, patch_body: dict[str, str] | None
) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client)
    url = f"/auth/{collection}/{a[collection]}"

    assert (await auth_client.get(url, headers=admin_b)).status_code == 404
    if patch_body is not None:
        assert (await auth_client.patch(url, headers=admin_b, json=patch_body)).status_code == 404
    assert (await auth_client.delete(url, headers=admin_b)).status_code == 404
    listed = (await auth_client.get(f"/auth/{collection}", headers=admin_b)).json()
    assert a[collection] not in {item["id"] for item in listed["items"]}
    # ...and it is all still there for its own organisation.
    assert (await auth_client.get(url, headers=admin_a)).status_code == 200


async def test_other_organization_itself_is_404(auth_client: Client) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client)
    url = f"/auth/organizations/{a['org']}"
    assert (await auth_client.get(url, headers=admin_b)).status_code == 404
    assert (await auth_client.patch(url, headers=admin_b, json={"name": "x"})).status_code == 404
    assert (await auth_client.delete(url, headers=admin_b)).status_code == 404
    listed = (await auth_client.get("/auth/organizations", headers=admin_b)).json()
    assert [org["name"] for org in listed["items"]] == ["Org B"]
    assert (await auth_client.get(url, headers=admin_a)).json()["name"] == "Org A"


async def test_cross_org_references_and_router_grants_are_refused(auth_client: Client) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client)
    # B cannot put its users or keys into A's team, nor grant A's team a router.
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
    grant = await auth_client.post(
        "/auth/routers/rtr_shared/teams", headers=admin_b, json={"teamId": a["teams"]}
    )
    assert grant.status_code == 400
    # A's grants on a router id are invisible to B.
    await auth_client.post(
        "/auth/routers/rtr_shared/teams", headers=admin_a, json={"teamId": a["teams"]}
    )
    assert (await auth_client.get("/auth/routers/rtr_shared/teams", headers=admin_b)).json() == []
    revoke = await auth_client.delete(
        f"/auth/routers/rtr_shared/teams/{a['teams']}", headers=admin_b
    )
    assert revoke.status_code == 404


async def test_deleting_an_organization_removes_its_access(auth_client: Client) -> None:
    admin_a, admin_b, a = await _two_organizations(auth_client)
    me_b = (await auth_client.get("/auth/me", headers=admin_b)).json()
    assert (
        await auth_client.delete(f"/auth/organizations/{me_b['orgId']}", headers=admin_b)
    ).status_code == 204
    login = await auth_client.post(
        "/auth/login", json={"email": "admin@b.example", "password": ADMIN_PASSWORD}
    )
    assert login.status_code == 401
    assert (await auth_client.get(f"/auth/teams/{a['teams']}", headers=admin_a)).status_code == 200
