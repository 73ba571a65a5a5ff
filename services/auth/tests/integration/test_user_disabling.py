"""Disabling a user, as an admin does it: the user view says so, the user's session ends,
their login and refresh answer exactly as a wrong password, an admin cannot disable
themselves, and enabling them again lets them back in."""

from __future__ import annotations

import httpx
from auth_support import ADMIN_PASSWORD, bearer, setup_admin

from hyperstrate_kit.testing import wait_for


async def _status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/auth/me", headers=headers)).status_code


async def test_a_disabled_user_is_shut_out_until_enabled_again(
    auth_client: httpx.AsyncClient,
) -> None:
    admin_session = await setup_admin(auth_client)
    admin = bearer(admin_session)
    created = await auth_client.post(
        "/auth/users",
        headers=admin,
        json={"email": "m@a.example", "password": ADMIN_PASSWORD, "name": "M"},
    )
    assert created.status_code == 201 and created.json()["disabled"] is False
    user_id = created.json()["id"]
    credentials = {"email": "m@a.example", "password": ADMIN_PASSWORD}
    session = (await auth_client.post("/auth/login", json=credentials)).json()
    assert await _status(auth_client, bearer(session)) == 200

    disabled = await auth_client.patch(
        f"/auth/users/{user_id}", headers=admin, json={"disabled": True}
    )
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    listed = (await auth_client.get("/auth/users", headers=admin)).json()["items"]
    assert {u["id"]: u["disabled"] for u in listed}[user_id] is True

    async def session_ended() -> bool:
        return await _status(auth_client, bearer(session)) == 401

    await wait_for(session_ended, timeout=5, message="the disabled user's session to end")
    refused = await auth_client.post("/auth/login", json=credentials)
    wrong = await auth_client.post("/auth/login", json={**credentials, "password": "not-it-at-all"})
    assert refused.status_code == wrong.status_code == 401 and refused.json() == wrong.json()
    refresh = await auth_client.post(
        "/auth/refresh", json={"refreshToken": session["refreshToken"]}
    )
    assert refresh.status_code == 401

    itself = await auth_client.patch(
        f"/auth/users/{admin_session['user']['id']}", headers=admin, json={"disabled": True}
    )
    assert itself.status_code == 400 and "disabled" in itself.json()["fields"]
    assert await _status(auth_client, admin) == 200

    enabled = await auth_client.patch(
        f"/auth/users/{user_id}", headers=admin, json={"disabled": False}
    )
    assert enabled.status_code == 200 and enabled.json()["disabled"] is False
    again = await auth_client.post("/auth/login", json=credentials)
    assert again.status_code == 200, again.text

    async def back_in() -> bool:
        return await _status(auth_client, bearer(again.json())) == 200

    await wait_for(back_in, timeout=5, message="the enabled user's new session to work")
    # The refresh token from before the disabling stays revoked.
    old = await auth_client.post("/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert old.status_code == 401
