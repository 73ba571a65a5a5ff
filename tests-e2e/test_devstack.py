"""`just up` end to end: NATS, PostgreSQL and all six services come up ready, stop
cleanly on Ctrl-C, and find their data again on the next start."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from stack_support import SERVICES, Stack

from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e


async def test_just_up_brings_every_service_up_and_data_survives_a_restart(stack: Stack) -> None:
    await stack.start()
    urls = {name: f"http://127.0.0.1:{stack.base_port + i}" for i, name in enumerate(SERVICES)}
    printed = "".join(stack.output)
    assert f"OPENAI_BASE_URL=http://127.0.0.1:{stack.base_port}/v1" in printed
    # The first start seeds a demo and prints a key that works right away.
    demo_key = stack.printed(r"Demo API key: (hs_\S+)")
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=10) as gateway:
        answer = await gateway.post(
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {demo_key}"},
            json={"model": "demo", "messages": [{"role": "user", "content": "Hi"}]},
        )
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"]
    async with httpx.AsyncClient(timeout=5) as client:
        for name, url in urls.items():
            assert (await client.get(f"{url}/healthz")).json() == {"status": "ok"}, name
            ready = (await client.get(f"{url}/readyz")).json()
            assert ready["status"] == "ready" and ready["checks"]["nats"] is True, name
            assert name == "gateway" or ready["checks"]["database"] is True
            assert "hyperstrate_relay_published_total" in (await client.get(f"{url}/metrics")).text
            spec = (await client.get(f"{url}/swagger/openapi.json")).json()
            assert spec["info"]["title"] == f"hyperstrate {name}"
            if name == "gateway":  # one document for the whole product, every service in it
                assert {"/v1/chat/completions", "/auth/setup", "/routers"} <= spec["paths"].keys()
                assert "x-unavailable-services" not in spec

    pg_url = stack.printed(r"PostgreSQL at (\S+),")
    conn = await asyncpg.connect(pg_url.rsplit("/", 1)[0] + "/hyperstrate_auth")
    await conn.execute(
        "CREATE TABLE survives_restart (note text); INSERT INTO survives_restart VALUES ('kept')"
    )
    await conn.close()

    assert await stack.interrupt() == 0
    assert "hyperstrate | stopped" in "".join(stack.output)

    stack.output.clear()
    await stack.start()
    assert stack.printed(r"Demo API key: (hs_\S+)") == demo_key  # the same demo, found again
    pg_url = stack.printed(r"PostgreSQL at (\S+),")
    conn = await asyncpg.connect(pg_url.rsplit("/", 1)[0] + "/hyperstrate_auth")
    assert await conn.fetchval("SELECT note FROM survives_restart") == "kept"
    await conn.close()

    # Killed outright (no Ctrl-C), the stack still takes every process it started with it.
    assert stack.process is not None
    children = _children(stack.process.pid)
    assert len(children) >= len(SERVICES) + 2  # the services, NATS and PostgreSQL at least
    stack.process.kill()
    await stack.process.wait()
    await wait_for(
        lambda: not [pid for pid in children if _alive(pid)],
        timeout=40,
        message="every process of the killed stack to exit",
    )


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listing:
        return [int(child) for child in listing.read().split()]


def _alive(pid: int) -> bool:
    """Running (a zombie whose parent is gone is reaped by init, not running)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
