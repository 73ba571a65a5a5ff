"""Money, as a new user would check it on the running stack: a cost cap (virtual key, team or
router) holds at 64 concurrent callers, whole and streamed, and observability's sum agrees; a
cap survives the router being SIGKILLed and started again; teams show what they spent."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from stack_support import Demo, running_demo

from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e

# fake-gpt costs $1 / $2 per million tokens in / out: a request of "x" with max_tokens 20
# reserves (5 + 20 * 2) / 1e6 = $0.000045 and costs a little less; the cap fits about ten.
CAP_USD = 0.00045


def _chat(router: str, stream: bool = False) -> dict[str, Any]:
    return {
        "model": router,
        "max_tokens": 20,
        "stream": stream,
        "messages": [{"role": "user", "content": "x"}],
    }


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with running_demo(tmp_path_factory.mktemp("budgets")) as started:
        yield started


async def _key_known(demo: Demo, key: str) -> None:
    """Wait until the gateway knows a new key (listing models spends nothing)."""

    async def known() -> bool:
        async with httpx.AsyncClient(base_url=demo.gateway, timeout=10) as client:
            response = await client.get("/v1/models", headers={"authorization": f"Bearer {key}"})
        return response.status_code == 200

    await wait_for(known, timeout=10, message="the key at the gateway")


async def _concurrently(demo: Demo, key: str, router: str, stream: bool) -> list[int]:
    headers = {"authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=demo.gateway, timeout=60, headers=headers) as client:

        async def one() -> int:
            response = await client.post("/v1/chat/completions", json=_chat(router, stream))
            if response.status_code == 200 and stream:
                assert response.text.rstrip().endswith("data: [DONE]")
            return response.status_code

        return list(await asyncio.gather(*(one() for _ in range(64))))


async def _spent(demo: Demo, path: str, answered: int) -> dict[str, Any]:
    """Observability's spend once every answered request is logged."""

    async def logged() -> dict[str, Any] | None:
        body = await demo.admin_call("GET", path)
        return body if body["usedRequests"] == answered else None

    found: dict[str, Any] = await wait_for(logged, timeout=15, message=f"{path} logged")
    return found


@pytest.mark.parametrize("scope", ["virtual_key", "team", "router"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_a_cost_cap_holds_at_64_concurrent_callers(
    demo: Demo, scope: str, stream: bool
) -> None:
    name = f"cap-{scope}-{'s' if stream else 'w'}"
    router_id = await demo.router(name, ["fake-gpt"])
    if scope == "router":
        await _router_budget(demo, router_id, name)
    team = None
    if scope == "team":
        team = await demo.admin_call("POST", "/auth/teams", {"name": name, "maxCostUsd": CAP_USD})
    capped = {"maxCostUsd": CAP_USD} if scope == "virtual_key" else {}
    key = await demo.admin_call(
        "POST",
        "/auth/virtual-keys",
        {"name": name, **capped, **({"teamId": team["id"]} if team else {})},
    )
    await _key_known(demo, key["key"])
    statuses = await _concurrently(demo, key["key"], name, stream)
    answered = statuses.count(200)
    assert answered >= 1 and statuses.count(429) == 64 - answered, statuses
    if scope == "virtual_key":
        spend = await _spent(
            demo, f"/observability/usage/virtual-keys/{key['virtualKey']['id']}", answered
        )
        assert 0 < spend["usedCostUsd"] <= CAP_USD
    elif scope == "team":
        spend = await _spent(demo, f"/observability/usage/teams/{team['id']}", answered)  # type: ignore[index]
        assert 0 < spend["usedCostUsd"] <= CAP_USD
        # The team's own view shows the same figures, from the same record.
        shown = await demo.admin_call("GET", f"/auth/teams/{team['id']}")  # type: ignore[index]
        assert (shown["usedRequests"], shown["usedCostUsd"]) == (
            answered,
            spend["usedCostUsd"],
        )
    else:

        async def logged() -> dict[str, Any] | None:
            usage = await demo.admin_call("GET", f"/observability/usage?routerId={router_id}")
            totals: dict[str, Any] = usage["totals"]
            return totals if totals["billedRequests"] == answered + 1 else None  # + warm-up

        totals = await wait_for(logged, timeout=15, message="the router's requests logged")
        assert 0 < totals["costUsd"] <= CAP_USD  # the warm-up counts against the cap too


async def _router_budget(demo: Demo, router_id: str, name: str) -> None:
    """Cap the router, and wait until it enforces the cap: a request without max_tokens may
    cost far more than the cap, so it is refused before it runs (and spends nothing)."""
    await demo.admin_call(
        "POST",
        f"/routers/{router_id}/features",
        {"type": "budget", "config": {"maxCostUsd": CAP_USD}},
    )

    async def enforced() -> bool:
        async with httpx.AsyncClient(base_url=demo.gateway, timeout=10) as client:
            response = await client.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {demo.key}"},
                json={"model": name, "messages": [{"role": "user", "content": "x"}]},
            )
        return response.status_code == 429 and "budget exceeded (router)" in response.text

    await wait_for(enforced, timeout=10, message="the router's budget")


def _router_pid(demo: Demo) -> int:
    """The pid of the stack's router (the process serving the router's port)."""
    port = demo.stack.url("router").rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # not a process, or one that is gone
            continue
        if b"hyperstrate_router" in cmdline and f"PORT={port}".encode() in environ:
            return int(entry.name)
    raise AssertionError("the stack's router process was not found")


async def _ready_again(demo: Demo, old_pid: int) -> None:
    async def ready() -> bool:
        try:
            async with httpx.AsyncClient(base_url=demo.stack.url("router"), timeout=5) as client:
                answered = (await client.get("/readyz")).status_code == 200
        except httpx.HTTPError:
            return False
        return answered and _router_pid(demo) != old_pid

    await wait_for(ready, timeout=60, message="the router started again")


async def test_a_cap_survives_the_router_being_killed(demo: Demo) -> None:
    await demo.router("survivor", ["fake-gpt"])
    body = {"name": "survivor", "maxRequests": 5, "resetPeriod": "monthly"}
    key = await demo.admin_call("POST", "/auth/virtual-keys", body)
    await _key_known(demo, key["key"])
    headers = {"authorization": f"Bearer {key['key']}"}
    async with httpx.AsyncClient(base_url=demo.gateway, timeout=30, headers=headers) as client:
        for _ in range(2):
            response = await client.post("/v1/chat/completions", json=_chat("survivor"))
            assert response.status_code == 200, response.text
        # Both are billed where the restarted router will find them. (The router publishes its
        # events in 20 ms batches after the answers: a kill within that window loses them,
        # the fault-tolerance issue's "inference events die with the router".)
        await _spent(demo, f"/observability/usage/virtual-keys/{key['virtualKey']['id']}", 2)
        pid = _router_pid(demo)
        os.kill(pid, signal.SIGKILL)  # `just up` starts it again, as an orchestrator would
        await _ready_again(demo, pid)
        statuses = []
        for _ in range(6):
            response = await client.post("/v1/chat/completions", json=_chat("survivor"))
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429, 429, 429], statuses
