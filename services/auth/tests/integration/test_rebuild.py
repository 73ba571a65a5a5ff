"""`python -m hyperstrate_auth rebuild` gives back exactly the read models live projection built."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
import httpx
from auth_support import ADMIN_PASSWORD, bearer, publish_router, setup_admin

from hyperstrate_auth.app import create_app
from hyperstrate_auth.infrastructure.tables import PROJECTION_TABLES
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name


async def _snapshot(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table.name: [
                tuple(r) for r in await conn.fetch(f"SELECT * FROM {table.name} ORDER BY 1, 2")
            ]
            for table in PROJECTION_TABLES
        }
    finally:
        await conn.close()


async def test_rebuild_reproduces_the_read_models(infrastructure: Infrastructure) -> None:
    env = {
        "DATABASE_URL": infrastructure.database_url,
        "DATABASE_NAME": unique_name("authrebuild"),
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": "rebuild-test-secret-rebuild-test",
    }
    app = create_app(load_settings(AuthSettings, environ=env))
    async with serve_app(app) as url, httpx.AsyncClient(base_url=url) as client:
        session = await setup_admin(client)
        admin = bearer(session)
        router_id = await publish_router(infrastructure, session["user"]["orgId"])
        team = (
            await client.post("/auth/teams", headers=admin, json={"name": "T", "maxRequests": 5})
        ).json()
        await client.patch(f"/auth/teams/{team['id']}", headers=admin, json={"name": "T2"})
        await client.post(
            "/auth/users",
            headers=admin,
            json={
                "email": "u@a.example",
                "password": ADMIN_PASSWORD,
                "name": "U",
                "teamId": team["id"],
            },
        )
        key = (await client.post("/auth/api-keys", headers=admin, json={"name": "k"})).json()
        await client.delete(f"/auth/api-keys/{key['apiKey']['id']}", headers=admin)
        await client.post(
            "/auth/virtual-keys", headers=admin, json={"name": "v", "teamId": team["id"]}
        )
        granted = await client.post(
            f"/auth/routers/{router_id}/teams", headers=admin, json={"teamId": team["id"]}
        )
        assert granted.status_code == 201, granted.text
    dsn = infrastructure.database_url.rsplit("/", 1)[0] + "/" + env["DATABASE_NAME"]
    live = await _snapshot(dsn)
    assert all(live.values())  # every read model has rows to compare

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hyperstrate_auth",
        "rebuild",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()

    assert await _snapshot(dsn) == live
