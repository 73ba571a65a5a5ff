"""`python -m hyperstrate_router rebuild` gives back exactly the read models live projection
built."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
from router_support import RouterApp, admin_of, create_router, new_org, post_ok

from hyperstrate_router.infrastructure.tables import PROJECTION_TABLES


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


async def test_rebuild_reproduces_the_read_models(router_app: RouterApp) -> None:
    client, org = router_app.client, new_org()
    admin = admin_of(org)
    registrations = [await router_app.register_model(org, f"m{i}") for i in range(3)]
    kept = await create_router(client, admin, name="kept", strategy="percentage")
    base = f"/routers/{kept['id']}"
    first = await post_ok(
        client, f"{base}/targets", admin, {"registrationId": registrations[0], "percentage": 70}
    )
    second = await post_ok(
        client, f"{base}/targets", admin, {"registrationId": registrations[1], "percentage": 30}
    )
    await client.patch(f"{base}/targets/{first['id']}", headers=admin, json={"priority": 3})
    await client.delete(f"{base}/targets/{second['id']}", headers=admin)
    await post_ok(client, f"{base}/targets", admin, {"registrationId": registrations[2]})
    await client.put(f"{base}/features/retry", headers=admin, json={"config": {"maxAttempts": 2}})
    await client.put(f"{base}/features/retry", headers=admin, json={"enabled": False})
    await post_ok(client, f"{base}/features", admin, {"type": "fallback"})
    await post_ok(client, f"{base}/features", admin, {"type": "hedging"})
    await client.delete(f"{base}/features/hedging", headers=admin)
    interceptor = await post_ok(
        client, f"{base}/interceptors", admin, {"type": "content_filter", "order": 1}
    )
    await client.patch(
        f"{base}/interceptors/{interceptor['id']}",
        headers=admin,
        json={"config": {"blockedTerms": ["x"]}},
    )
    dropped = await post_ok(client, f"{base}/interceptors", admin, {"type": "pii_detector"})
    await client.delete(f"{base}/interceptors/{dropped['id']}", headers=admin)
    await client.put(
        f"{base}/configuration",
        headers=admin,
        json={"webhookUrl": "https://hooks.example.com/a", "storePayloads": True},
    )
    await client.put(f"{base}/configuration", headers=admin, json={"promptId": "prm_2"})
    await client.patch(base, headers=admin, json={"description": "renamed", "enabled": False})
    gone = await create_router(client, admin, name="gone")
    await post_ok(client, f"/routers/{gone['id']}/features", admin, {"type": "response_cache"})
    await client.delete(f"/routers/{gone['id']}", headers=admin)

    env = router_app.environ
    dsn = env["DATABASE_URL"].rsplit("/", 1)[0] + "/" + env["DATABASE_NAME"]
    live = await _snapshot(dsn)
    assert all(live.values())  # every read model has rows to compare

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hyperstrate_router",
        "rebuild",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()

    assert await _snapshot(dsn) == live
