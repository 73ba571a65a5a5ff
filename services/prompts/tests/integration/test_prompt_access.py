"""Organisation isolation, guards and validation of the prompts API."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prompts_support import admin_of

Client = AsyncTestClient[Litestar]


async def test_another_organisations_prompt_is_404_everywhere_and_never_listed(
    prompts_client: Client,
) -> None:
    admin_a, admin_b = admin_of(), admin_of()
    created = await prompts_client.post(
        "/prompts", headers=admin_a, json={"name": "secret", "text": "{{x}}"}
    )
    prompt_id = created.json()["id"]
    url = f"/prompts/{prompt_id}"

    for method, path, body in (
        ("GET", url, None),
        ("PATCH", url, {"text": "stolen"}),
        ("DELETE", url, None),
        ("GET", f"{url}/versions", None),
        ("GET", f"{url}/versions/1", None),
        ("POST", f"{url}/versions/1/restore", None),
        ("POST", f"{url}/render", {"variables": {"x": 1}}),
    ):
        response = await prompts_client.request(method, path, headers=admin_b, json=body)
        assert response.status_code == 404, (method, path, response.text)

    listed = (await prompts_client.get("/prompts", headers=admin_b)).json()
    assert listed == {"items": [], "page": 1, "perPage": 30, "total": 0}
    searched = (await prompts_client.get("/prompts?search=secret", headers=admin_b)).json()
    assert searched["total"] == 0
    # ...and untouched for its own organisation.
    mine = (await prompts_client.get(url, headers=admin_a)).json()
    assert (mine["text"], mine["version"]) == ("{{x}}", 1)


async def test_admin_session_required(prompts_client: Client) -> None:
    assert (await prompts_client.get("/prompts")).status_code == 401
    member = admin_of(role="member")
    assert (await prompts_client.get("/prompts", headers=member)).status_code == 403
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await prompts_client.get("/prompts", headers=bad)).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "text": "t"}, "name"),
        ({"name": "n" * 256, "text": "t"}, "name"),
        ({"name": "n"}, "text"),
        ({"name": "n", "text": ""}, "text"),
        ({"name": "n", "text": "t" * 100_001}, "text"),
        ({"name": "n", "text": "t", "description": "d" * 2001}, "description"),
        ({"name": "n", "text": "t", "content": "typo"}, "content"),
        ({"name": 5, "text": "t"}, "name"),
    ],
)
async def test_bad_bodies_are_400_naming_the_field(
    prompts_client: Client, body: dict[str, Any], field: str
) -> None:
    response = await prompts_client.post("/prompts", headers=admin_of(), json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["fields"], response.json()


async def test_bad_updates_paths_and_filters_are_400(prompts_client: Client) -> None:
    admin = admin_of()
    prompt_id = (
        await prompts_client.post("/prompts", headers=admin, json={"name": "n", "text": "t"})
    ).json()["id"]
    url = f"/prompts/{prompt_id}"
    for method, path, body in (
        ("PATCH", url, {"text": ""}),
        ("PATCH", url, {"version": 3}),
        ("GET", f"/prompts/{'p' * 101}", None),
        ("GET", f"{url}/versions/0", None),
        ("POST", f"{url}/versions/-1/restore", None),
        ("GET", f"/prompts?search={'s' * 101}", None),
        ("GET", "/prompts?perPage=501", None),
        ("POST", f"{url}/render", {"variables": {"x": [1, 2]}}),
        ("POST", f"{url}/render", {"version": 0}),
    ):
        response = await prompts_client.request(method, path, headers=admin, json=body)
        assert response.status_code == 400, (method, path, response.text)
    # Nothing above made a version.
    assert (await prompts_client.get(url, headers=admin)).json()["version"] == 1
