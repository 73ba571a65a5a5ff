"""The auth story a new user goes through, end to end over HTTP with real NATS + PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgspec
from auth_support import ADMIN_PASSWORD, bearer, publish_router, setup_admin

from hyperstrate_contracts import utc_now
from hyperstrate_contracts.auth import KEY_USAGE_SUBJECT, KeyUsageBatch, auth_registry
from hyperstrate_kit.bus import StreamFollower, connect_nats, request
from hyperstrate_kit.keys import KeyDirectory
from hyperstrate_kit.security import hash_key
from hyperstrate_kit.testing import Infrastructure, wait_for

Client = httpx.AsyncClient


async def test_setup_is_public_once_then_closed(auth_client: Client) -> None:
    assert (await auth_client.get("/auth/setup/status")).json() == {"setupRequired": True}
    session = await setup_admin(auth_client)
    assert session["user"]["role"] == "admin" and session["tokenType"] == "Bearer"
    assert (await auth_client.get("/auth/setup/status")).json() == {"setupRequired": False}
    again = await auth_client.post(
        "/auth/setup",
        json={"organizationName": "Other", "email": "x@b.example", "password": ADMIN_PASSWORD},
    )
    assert again.status_code == 409 and again.json()["error"] == "setup already completed"


async def test_concurrent_setups_create_one_organization(auth_client: Client) -> None:
    bodies = [
        {"organizationName": f"Org {i}", "email": f"a{i}@x.example", "password": ADMIN_PASSWORD}
        for i in range(4)
    ]
    responses = await asyncio.gather(*(auth_client.post("/auth/setup", json=b) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]


async def test_login_refresh_logout(auth_client: Client) -> None:
    await setup_admin(auth_client)
    wrong = await auth_client.post(
        "/auth/login", json={"email": "admin@a.example", "password": "nope-nope"}
    )
    unknown = await auth_client.post(
        "/auth/login", json={"email": "ghost@a.example", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"error": "invalid email or password", "fields": {}}

    session = (
        await auth_client.post(
            "/auth/login", json={"email": "ADMIN@a.example ", "password": ADMIN_PASSWORD}
        )
    ).json()
    me = await auth_client.get("/auth/me", headers=bearer(session))
    assert me.status_code == 200 and me.json()["email"] == "admin@a.example"

    renewed = await auth_client.post(
        "/auth/refresh", json={"refreshToken": session["refreshToken"]}
    )
    assert renewed.status_code == 200
    reused = await auth_client.post("/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert reused.status_code == 401  # a refresh token is spent once

    new_refresh = renewed.json()["refreshToken"]
    assert (
        await auth_client.post("/auth/logout", json={"refreshToken": new_refresh})
    ).status_code == 204
    after = await auth_client.post("/auth/refresh", json={"refreshToken": new_refresh})
    assert after.status_code == 401


async def test_admin_email_always_gets_the_admin_role(auth_client: Client) -> None:
    admin = bearer(await setup_admin(auth_client))
    for email in ("member@a.example", "operator@example.com"):
        created = await auth_client.post(
            "/auth/users",
            headers=admin,
            json={"email": email, "password": ADMIN_PASSWORD, "name": "M", "role": "member"},
        )
        assert created.status_code == 201, created.text
    member = (
        await auth_client.post(
            "/auth/login", json={"email": "member@a.example", "password": ADMIN_PASSWORD}
        )
    ).json()
    operator = (
        await auth_client.post(
            "/auth/login", json={"email": "operator@example.com", "password": ADMIN_PASSWORD}
        )
    ).json()
    assert member["user"]["role"] == "member" and operator["user"]["role"] == "admin"
    assert (await auth_client.get("/auth/teams", headers=bearer(member))).status_code == 403
    assert (await auth_client.get("/auth/teams", headers=bearer(operator))).status_code == 200
    assert (await auth_client.get("/auth/me", headers=bearer(member))).status_code == 200


async def _follow_keys(infrastructure: Infrastructure) -> tuple[Any, KeyDirectory, StreamFollower]:
    nc = await connect_nats(infrastructure.nats_url, "test-keys")
    directory = KeyDirectory()
    follower = StreamFollower(nc.jetstream(), auth_registry(), "auth.>", directory.apply)
    await follower.start()
    await asyncio.wait_for(follower.caught_up.wait(), 10)
    return nc, directory, follower


async def test_team_keys_and_revocation_reach_the_key_projection(
    auth_client: Client, infrastructure: Infrastructure
) -> None:
    session = await setup_admin(auth_client)
    admin = bearer(session)
    router_id = await publish_router(infrastructure, session["user"]["orgId"])
    nc, directory, follower = await _follow_keys(infrastructure)
    try:
        team = (
            await auth_client.post(
                "/auth/teams",
                headers=admin,
                json={"name": "Research", "maxRequests": 1000, "maxCostUsd": 25.5},
            )
        ).json()
        assert team["maxCostUsd"] == 25.5  # usage: test_team_usage (from observability)

        created = await auth_client.post(
            "/auth/api-keys", headers=admin, json={"name": "ci", "routerIds": [router_id]}
        )
        assert created.status_code == 201
        api_key = created.json()["key"]
        assert api_key.startswith("hs_") and api_key.startswith(created.json()["apiKey"]["prefix"])

        virtual = (
            await auth_client.post(
                "/auth/virtual-keys",
                headers=admin,
                json={
                    "name": "budgeted",
                    "teamId": team["id"],
                    "maxRequests": 10,
                    "maxCostUsd": 1.0,
                    "resetPeriod": "daily",
                    "rateLimitRps": 5,
                },
            )
        ).json()
        virtual_key = virtual["key"]

        listed = await auth_client.get("/auth/api-keys", headers=admin)
        assert listed.json()["total"] == 1 and api_key not in listed.text
        vk_listed = await auth_client.get("/auth/virtual-keys", headers=admin)
        assert (
            vk_listed.json()["items"][0]["rateLimitRps"] == 5 and virtual_key not in vk_listed.text
        )

        identity = await wait_for(
            lambda: directory.lookup(hash_key(api_key)), timeout=5, message="key"
        )
        assert identity.kind == "api_key" and identity.allows_router(router_id)
        assert not identity.allows_router("rtr_other")
        vk_identity = await wait_for(lambda: directory.lookup(hash_key(virtual_key)), timeout=5)
        assert (vk_identity.team_id, vk_identity.max_requests, vk_identity.reset_period) == (
            team["id"],
            10,
            "daily",
        )

        revoked = await auth_client.delete(
            f"/auth/api-keys/{created.json()['apiKey']['id']}", headers=admin
        )
        assert revoked.status_code == 204
        # Revocation reaches the in-memory projection within a second.
        await wait_for(
            lambda: directory.lookup(hash_key(api_key)) is None,
            timeout=1.0,
            message="revoked key to disappear",
        )
        shown = (
            await auth_client.get(f"/auth/api-keys/{created.json()['apiKey']['id']}", headers=admin)
        ).json()
        assert shown["revokedAt"] is not None
        again = await auth_client.delete(
            f"/auth/api-keys/{created.json()['apiKey']['id']}", headers=admin
        )
        assert again.status_code == 409
    finally:
        await follower.stop()
        await nc.drain()


async def test_key_usage_batches_set_last_used(
    auth_client: Client, infrastructure: Infrastructure
) -> None:
    admin = bearer(await setup_admin(auth_client))
    created = (
        await auth_client.post("/auth/api-keys", headers=admin, json={"name": "used"})
    ).json()
    seen_at = utc_now()
    nc = await connect_nats(infrastructure.nats_url, "test-usage")
    try:
        await request(
            nc,
            KEY_USAGE_SUBJECT,
            KeyUsageBatch(last_used={hash_key(created["key"]): seen_at}),
            KeyUsageBatch,
        )
    finally:
        await nc.drain()
    shown = (
        await auth_client.get(f"/auth/api-keys/{created['apiKey']['id']}", headers=admin)
    ).json()
    assert shown["lastUsedAt"] is not None


async def test_router_team_access(auth_client: Client, infrastructure: Infrastructure) -> None:
    session = await setup_admin(auth_client)
    admin = bearer(session)
    rtr = await publish_router(infrastructure, session["user"]["orgId"])
    team = (await auth_client.post("/auth/teams", headers=admin, json={"name": "T"})).json()
    assert (await auth_client.get(f"/auth/routers/{rtr}/teams", headers=admin)).json() == []
    granted = await auth_client.post(
        f"/auth/routers/{rtr}/teams", headers=admin, json={"teamId": team["id"]}
    )
    assert granted.status_code == 201 and granted.json()[0]["teamId"] == team["id"]
    duplicate = await auth_client.post(
        f"/auth/routers/{rtr}/teams", headers=admin, json={"teamId": team["id"]}
    )
    assert duplicate.status_code == 409
    unknown_team = await auth_client.post(
        f"/auth/routers/{rtr}/teams", headers=admin, json={"teamId": "team_x"}
    )
    assert unknown_team.status_code == 400 and "teamId" in unknown_team.json()["fields"]
    removed = await auth_client.delete(f"/auth/routers/{rtr}/teams/{team['id']}", headers=admin)
    assert removed.status_code == 204
    assert (await auth_client.get(f"/auth/routers/{rtr}/teams", headers=admin)).json() == []


async def test_setup_and_the_admins_changes_are_recorded_as_the_admins(
    auth_client: Client, infrastructure: Infrastructure
) -> None:
    session = await setup_admin(auth_client, email="actor@a.example")
    await auth_client.post("/auth/teams", headers=bearer(session), json={"name": "Named"})
    admin_id, org_id = session["user"]["id"], session["user"]["orgId"]
    nc = await connect_nats(infrastructure.nats_url, "auth-actor-test")
    actors: dict[str, tuple[str, str]] = {}

    async def on_message(msg: Any) -> None:
        if msgspec.json.decode(msg.data).get("org_id") == org_id:
            headers = msg.headers or {}
            actors[msg.subject] = (headers.get("Hs-Actor-Kind"), headers.get("Hs-Actor-Id"))

    try:
        await nc.jetstream().subscribe("auth.>", cb=on_message, ordered_consumer=True)
        await wait_for(lambda: len(actors) == 3, timeout=10, message="the three events")
    finally:
        await nc.drain()
    # Nobody was signed in for the setup: the person who ran it is the admin it made.
    assert actors == {
        "auth.organization.created": ("user", admin_id),
        "auth.user.created": ("user", admin_id),
        "auth.team.created": ("user", admin_id),
    }
