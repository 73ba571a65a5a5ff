"""Bad input is a 400 naming the field, never a 500."""

from __future__ import annotations

import httpx
import pytest
from auth_support import bearer, setup_admin

Client = httpx.AsyncClient


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/auth/teams", {"name": ""}, "name"),
        ("/auth/teams", {"name": "x" * 256}, "name"),
        ("/auth/teams", {"name": "t", "maxRequests": -1}, "maxRequests"),
        ("/auth/teams", {"name": "t", "maxCostUsd": -0.01}, "maxCostUsd"),
        ("/auth/teams", {"name": "t", "maxBudget": 3}, "maxBudget"),
        (
            "/auth/users",
            {"email": "u@x.example", "password": "longenough", "name": "U", "role": "owner"},
            "role",
        ),
        ("/auth/users", {"email": "not-an-email", "password": "longenough", "name": "U"}, "email"),
        ("/auth/users", {"email": "u@x.example", "password": "short", "name": "U"}, "password"),
        ("/auth/virtual-keys", {"name": "v", "resetPeriod": "hourly"}, "resetPeriod"),
        ("/auth/virtual-keys", {"name": "v", "maxRequests": -5}, "maxRequests"),
        ("/auth/virtual-keys", {"name": "v", "rateLimitRps": 0}, "rateLimitRps"),
        ("/auth/api-keys", {"name": "k", "routerIds": ["r" * 101]}, "routerIds"),
        ("/auth/api-keys", {"name": "k", "expiresAt": "tomorrow"}, "expiresAt"),
    ],
)
async def test_bad_bodies_name_the_field(
    auth_client: Client, path: str, body: dict[str, object], field: str
) -> None:
    admin = bearer(await setup_admin(auth_client))
    response = await auth_client.post(path, headers=admin, json=body)
    assert response.status_code == 400, response.text
    assert any(key.startswith(field) for key in response.json()["fields"]), response.json()


async def test_path_params_and_filters_over_100_characters_are_400(auth_client: Client) -> None:
    admin = bearer(await setup_admin(auth_client))
    long_id = "k" * 101
    for method, path in (
        ("GET", f"/auth/api-keys/{long_id}"),
        ("DELETE", f"/auth/teams/{long_id}"),
        ("GET", f"/auth/routers/{long_id}/teams"),
        ("GET", f"/auth/api-keys?routerId={long_id}"),
    ):
        response = await auth_client.request(method, path, headers=admin)
        assert response.status_code == 400, (path, response.text)


async def test_duplicate_email_is_a_409_naming_it(auth_client: Client) -> None:
    admin = bearer(await setup_admin(auth_client))
    body = {"email": "Admin@A.example", "password": "longenough", "name": "Again"}
    response = await auth_client.post("/auth/users", headers=admin, json=body)
    assert response.status_code == 409 and response.json()["fields"] == {"email": ["already used"]}


async def test_nul_characters_and_bad_utf8_are_400_not_500(auth_client: Client) -> None:
    admin = bearer(await setup_admin(auth_client))
    stored = await auth_client.post("/auth/teams", headers=admin, json={"name": "a\u0000b"})
    assert stored.status_code == 400, stored.text
    in_path = await auth_client.get("/auth/teams/abc%00def", headers=admin)
    assert in_path.status_code == 400, in_path.text
    in_query = await auth_client.get("/auth/api-keys?routerId=x%00y", headers=admin)
    assert in_query.status_code == 400, in_query.text
    undecodable = await auth_client.post(
        "/auth/teams",
        headers={**admin, "content-type": "application/json"},
        content=b'{"name": "\\xff\xfe"}',
    )
    assert undecodable.status_code == 400, undecodable.text
