"""The auth story as a new user runs it against `just up`: setup, login, team, keys, revoke;
the key projection following the stack's NATS drops the revoked key within a second."""

from __future__ import annotations

import httpx
import pytest
from stack_support import Stack

from hyperstrate_contracts.auth import auth_registry
from hyperstrate_kit.bus import StreamFollower, connect_nats
from hyperstrate_kit.keys import KeyDirectory
from hyperstrate_kit.security import hash_key
from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e


async def test_auth_story_against_the_running_stack(stack: Stack) -> None:
    await stack.start("--no-demo")  # a user setting the stack up by hand
    nc = await connect_nats(stack.printed(r"NATS \(JetStream\) at (\S+),"), "e2e")
    directory = KeyDirectory()
    follower = StreamFollower(nc.jetstream(), auth_registry(), "auth.>", directory.apply)
    await follower.start()
    try:
        # As a user would: everything through the gateway, one base URL.
        async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=10) as auth:
            assert (await auth.get("/auth/setup/status")).json() == {"setupRequired": True}
            setup = await auth.post(
                "/auth/setup",
                json={
                    "organizationName": "Acme",
                    "email": "admin@acme.example",
                    "password": "s3cret-pass!",
                },
            )
            assert setup.status_code == 201
            login = await auth.post(
                "/auth/login", json={"email": "admin@acme.example", "password": "s3cret-pass!"}
            )
            admin = {"Authorization": f"Bearer {login.json()['accessToken']}"}
            team = (await auth.post("/auth/teams", headers=admin, json={"name": "ML"})).json()
            key = (await auth.post("/auth/api-keys", headers=admin, json={"name": "ci"})).json()
            virtual = await auth.post(
                "/auth/virtual-keys",
                headers=admin,
                json={"name": "capped", "teamId": team["id"], "maxRequests": 100},
            )
            assert virtual.status_code == 201
            listing = await auth.get("/auth/api-keys", headers=admin)
            assert listing.json()["total"] == 1 and key["key"] not in listing.text

            await wait_for(lambda: directory.lookup(hash_key(key["key"])), timeout=5, message="key")
            revoked = await auth.delete(f"/auth/api-keys/{key['apiKey']['id']}", headers=admin)
            assert revoked.status_code == 204
            # The promise: a revoked key stops working within one second.
            await wait_for(
                lambda: directory.lookup(hash_key(key["key"])) is None,
                timeout=1.0,
                message="the revoked key to stop working",
            )
    finally:
        await follower.stop()
        await nc.drain()
        assert await stack.interrupt() == 0
