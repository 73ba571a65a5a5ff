"""Organisation isolation: another organisation's registration, job, conversation or MCP
server is a 404 for read, update, delete and use, and never shows in a list."""

from __future__ import annotations

from typing import Any

import pytest
from catalog_support import Catalog, new_org, register

# (collection, a valid PATCH body or None when the resource has no update or delete)
RESOURCES = [
    ("registrations", {"name": "stolen"}),
    ("conversations", {"title": "stolen"}),
    ("mcp/servers", {"name": "stolen"}),
    ("jobs", None),
]
MESSAGES = [{"role": "user", "content": "hi"}]


async def _org_a_resources(catalog: Catalog) -> tuple[dict[str, str], dict[str, Any]]:
    """Org A with one of each resource; returns its headers and the ids."""
    org = new_org()
    client = catalog.client
    ids: dict[str, Any] = {}
    ids["registrations"] = (await register(client, org, "http://127.0.0.1:9/v1"))["id"]
    ids["conversations"] = (
        await client.post(
            "/ai/conversations",
            headers=org.headers,
            json={"title": "A", "registrationId": ids["registrations"]},
        )
    ).json()["id"]
    ids["mcp/servers"] = (
        await client.post(
            "/ai/mcp/servers",
            headers=org.headers,
            json={"name": "A", "url": "https://mcp.example.com/mcp"},
        )
    ).json()["id"]
    submitted = await client.post(
        "/ai/jobs",
        headers=org.headers,
        json={"registrationId": ids["registrations"], "messages": MESSAGES},
    )
    assert submitted.status_code == 202, submitted.text
    ids["jobs"] = submitted.json()["id"]
    return org.headers, ids


@pytest.mark.parametrize(("collection", "patch_body"), RESOURCES)
async def test_another_orgs_resource_is_404_and_never_listed(
    catalog: Catalog, collection: str, patch_body: dict[str, Any] | None
) -> None:
    headers_a, ids = await _org_a_resources(catalog)
    headers_b = new_org().headers
    client = catalog.client
    path = f"/ai/{collection}/{ids[collection]}"

    assert (await client.get(path, headers=headers_a)).status_code == 200
    response = await client.get(path, headers=headers_b)
    assert response.status_code == 404, response.text
    assert response.json()["error"].endswith("not found")
    if patch_body is not None:
        assert (await client.patch(path, headers=headers_b, json=patch_body)).status_code == 404
        assert (await client.delete(path, headers=headers_b)).status_code == 404
    listed = (await client.get(f"/ai/{collection}", headers=headers_b)).json()
    assert listed["items"] == [] and listed["total"] == 0
    # Org A's resource is untouched by B's attempts.
    assert (await client.get(path, headers=headers_a)).status_code == 200


async def test_another_orgs_registration_and_conversation_cannot_be_used(
    catalog: Catalog,
) -> None:
    headers_a, ids = await _org_a_resources(catalog)
    headers_b = new_org().headers
    client = catalog.client
    registration_id, conversation_id = ids["registrations"], ids["conversations"]
    uses = [
        ("/ai/infer", {"registrationId": registration_id, "messages": MESSAGES}),
        ("/ai/jobs", {"registrationId": registration_id, "messages": MESSAGES}),
        (f"/ai/conversations/{conversation_id}/send", {"content": "hi"}),
        (f"/ai/conversations/{conversation_id}/messages", {"role": "user", "content": "hi"}),
    ]
    for path, body in uses:
        response = await client.post(path, headers=headers_b, json=body)
        assert response.status_code == 404, (path, response.text)
    messages = await client.get(f"/ai/conversations/{conversation_id}/messages", headers=headers_b)
    assert messages.status_code == 404
    # B's own conversation cannot be bound to A's registration either.
    bound = await client.post(
        "/ai/conversations",
        headers=headers_b,
        json={"title": "B", "registrationId": registration_id},
    )
    assert bound.status_code == 400 and "registrationId" in bound.json()["fields"]
    assert headers_a


async def test_admin_routes_need_the_admin_role(catalog: Catalog) -> None:
    member = new_org(role="member").headers
    for path in ("/ai/registrations", "/ai/conversations", "/ai/mcp/servers"):
        assert (await catalog.client.get(path, headers=member)).status_code == 403
        assert (await catalog.client.get(path)).status_code == 401
    # Direct inference and its jobs bypass every router's limits: admins only.
    for path in ("/ai/jobs", "/ai/infer", "/ai/conversations/cnv_x/send"):
        method = catalog.client.get if path == "/ai/jobs" else catalog.client.post
        assert (await method(path, headers=member)).status_code == 403
