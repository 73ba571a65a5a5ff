"""PostgreSQL restarted under the running stack (`just up`), as an operator would: fast
shutdown, then started again on the same port and data. While it is down the admin APIs
answer 503 with a clear error and inference goes on; once it is back, without restarting
any service, a new API key works at the gateway, a key revoked after recovery is refused,
and every service's /readyz is green again."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from stack_support import SERVICES, Demo, running_demo

from hyperstrate_kit.demo import DEMO_ROUTER
from hyperstrate_kit.embedded import EmbeddedPostgres
from hyperstrate_kit.testing import fast_shutdown_postgres, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

RECOVERY_SECONDS = 15  # what the issue allows the stack to heal in, by itself
#: An admin read of each service, through the gateway as a user calls it.
ADMIN_READS = ("/auth/api-keys", "/routers", "/ai/registrations", "/prompts",
               "/observability/logs")  # fmt: skip


async def _chat(client: httpx.AsyncClient, key: str) -> int:
    response = await client.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": DEMO_ROUTER, "messages": [{"role": "user", "content": "hi"}]},
    )
    return response.status_code


async def _new_key(client: httpx.AsyncClient, demo: Demo, name: str) -> dict[str, str]:
    """A new API key, asked for again while the services' pools reconnect (503 meanwhile)."""

    async def created() -> dict[str, str] | None:
        response = await client.post("/auth/api-keys", headers=demo.admin, json={"name": name})
        assert response.status_code in (201, 503), response.text
        if response.status_code != 201:
            return None
        body = response.json()
        return {"id": body["apiKey"]["id"], "key": body["key"]}

    created_key: dict[str, str] = await wait_for(created, timeout=RECOVERY_SECONDS, interval=0.2,
                                                 message=f"key {name} created")  # fmt: skip
    return created_key


async def test_the_stack_heals_by_itself_after_postgres_restarts() -> None:
    # Outside pytest's tmp_path: a pytest session starting meanwhile makes its root 0700,
    # and PostgreSQL (another user under root) could not start again on its data.
    directory = Path(tempfile.mkdtemp(prefix="hyperstrate-pg-restart-"))
    restarted: EmbeddedPostgres | None = None
    try:
        async with (
            running_demo(directory) as demo,
            httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client,
        ):
            stack = demo.stack
            url = stack.printed(r"PostgreSQL at (\S+),")
            port = int(re.search(r":(\d+)/", url).group(1))  # type: ignore[union-attr]
            kept = await _new_key(client, demo, "kept")
            await wait_for(lambda: _chat_is(client, kept["key"], 200), timeout=RECOVERY_SECONDS,
                           message="a key from before the outage working")  # fmt: skip

            await fast_shutdown_postgres(stack.data_dir / "pg" / "cluster")
            for path in ADMIN_READS:
                down = await client.get(path, headers=demo.admin)
                assert down.status_code == 503, (path, down.status_code, down.text)
                assert down.json()["error"] == "database unavailable, retry shortly", path
                assert down.headers.get("retry-after") == "2", path
            refused = await client.post("/auth/api-keys", headers=demo.admin, json={"name": "x"})
            assert refused.status_code == 503, refused.text
            # The hot path holds its projections in memory: inference goes on meanwhile.
            assert await _chat(client, kept["key"]) == 200

            restarted = EmbeddedPostgres(stack.data_dir / "pg", port=port)
            await asyncio.to_thread(restarted.start)
            recovered_at = time.monotonic()

            fresh = await _new_key(client, demo, "after-recovery")
            await wait_for(lambda: _chat_is(client, fresh["key"], 200), timeout=RECOVERY_SECONDS,
                           message="a key created after recovery working")  # fmt: skip
            doomed = await _new_key(client, demo, "doomed")
            await wait_for(lambda: _chat_is(client, doomed["key"], 200), timeout=RECOVERY_SECONDS,
                           message="the key to revoke working first")  # fmt: skip
            revoked = await client.delete(f"/auth/api-keys/{doomed['id']}", headers=demo.admin)
            assert revoked.status_code == 204, revoked.text
            await wait_for(lambda: _chat_is(client, doomed["key"], 401), timeout=RECOVERY_SECONDS,
                           message="the key revoked after recovery refused")  # fmt: skip
            assert await _chat(client, kept["key"]) == 200

            async def every_service_ready() -> bool:
                for service in SERVICES:
                    ready = await client.get(f"{stack.url(service)}/readyz")
                    if ready.status_code != 200:
                        return False
                return True

            await wait_for(every_service_ready, timeout=RECOVERY_SECONDS, interval=0.2,
                           message="/readyz green in every service")  # fmt: skip
            for path in ADMIN_READS:
                back = await client.get(path, headers=demo.admin)
                assert back.status_code == 200, (path, back.text)
            print(f"\npostgres restart: healed in {time.monotonic() - recovered_at:.1f} s")
            checks = (await client.get(f"{stack.url('auth')}/readyz")).json()["checks"]
            assert checks["task:outbox-relay"] is True  # the relay lived through it
    finally:
        if restarted is not None:  # after the stack: its services stop on a live database
            await asyncio.to_thread(restarted.stop)
        shutil.rmtree(directory, ignore_errors=True)


async def _chat_is(client: httpx.AsyncClient, key: str, status: int) -> bool:
    return await _chat(client, key) == status
