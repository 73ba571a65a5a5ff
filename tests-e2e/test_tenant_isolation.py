"""Organisation B's admin, through the gateway, learns nothing of organisation A's teams,
virtual keys and routers from observability: each is a 404, the very answer an id that
never existed gets. And URLs that could not be delivered are refused when they are given,
naming the field, in every service that takes one."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from stack_support import Stack

from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e

NEVER = "0123456789abcdef0123456789abcdef"


async def _login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['accessToken']}"}


async def _created(
    client: httpx.AsyncClient, headers: dict[str, str], path: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(path, headers=headers, json=body)
    assert response.status_code == 201, (path, response.text)
    return dict(response.json())


async def _answer(
    client: httpx.AsyncClient, headers: dict[str, str], method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    response = await client.request(method, path, headers=headers, json=body)
    return response.status_code, response.json()


async def test_another_organisations_ids_are_404_as_ids_that_never_were(stack: Stack) -> None:
    await stack.start()
    access = json.loads((stack.data_dir / "demo.json").read_text())
    output = await stack.operator_cli(
        "create-org", "--name", "Other", "--admin-email", "b-admin@tenant.example"
    )
    b_password = re.search(r"password:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=30) as client:
        a_admin = await _login(client, access["admin_email"], access["admin_password"])
        b_admin = await _login(client, "b-admin@tenant.example", b_password)
        team = (await _created(client, a_admin, "/auth/teams", {"name": "A's team"}))["id"]
        created = await _created(client, a_admin, "/auth/virtual-keys", {"name": "A's key"})
        key = created["virtualKey"]["id"]
        router = (await _created(client, a_admin, "/routers", {"name": "a-router"}))["id"]
        hook = {"routerId": router, "url": "https://hooks.example.com/in"}

        # A's own ids answer A's admin, a moment after their creation.
        for path in (
            f"/observability/usage/teams/{team}",
            f"/observability/usage/teams/{team}?period=monthly",
            f"/observability/usage/virtual-keys/{key}",
            f"/observability/usage/virtual-keys/{key}?period=all",
        ):
            status, body = await _answer(client, a_admin, "GET", path)
            assert status == 200 and body["usedRequests"] == 0, (path, body)
        assert (await _answer(client, a_admin, "POST", "/observability/webhooks", hook))[0] == 201

        # B's admin: each of A's ids gets what an id that never existed gets.
        for of_a, never in (
            (f"/observability/usage/teams/{team}", f"/observability/usage/teams/team_{NEVER}"),
            (
                f"/observability/usage/teams/{team}?period=weekly",
                f"/observability/usage/teams/team_{NEVER}?period=weekly",
            ),
            (
                f"/observability/usage/virtual-keys/{key}",
                f"/observability/usage/virtual-keys/vk_{NEVER}",
            ),
            (
                f"/observability/usage/virtual-keys/{key}?period=daily",
                f"/observability/usage/virtual-keys/vk_{NEVER}?period=daily",
            ),
        ):
            answered = await _answer(client, b_admin, "GET", of_a)
            assert answered[0] == 404, (of_a, answered)
            assert answered == await _answer(client, b_admin, "GET", never), of_a
        theirs = await _answer(client, b_admin, "POST", "/observability/webhooks", hook)
        missing = {**hook, "routerId": f"rtr_{NEVER}"}
        assert theirs == await _answer(client, b_admin, "POST", "/observability/webhooks", missing)
        assert theirs == (404, {"error": "router not found", "fields": {"routerId": [
            "no such router"]}})  # fmt: skip
        status, listed = await _answer(client, b_admin, "GET", "/observability/webhooks")
        assert status == 200 and listed["total"] == 0

        # A's webhook is still A's alone.
        status, listed = await _answer(client, a_admin, "GET", "/observability/webhooks")
        assert status == 200 and [w["routerId"] for w in listed["items"]] == [router]


async def test_urls_that_could_not_be_delivered_are_refused_naming_the_field(
    stack: Stack,
) -> None:
    await stack.start()
    access = json.loads((stack.data_dir / "demo.json").read_text())
    port = stack.base_port + 9  # the fake upstream: loopback, allowed by the demo's settings
    undeliverable = {
        f"http://0177.0.0.1:{port}/v1": "write it as 127.0.0.1",
        f"http://0x7f.1:{port}/v1": "write it as 127.0.0.1",
        f"http://2130706433:{port}/v1": "write it as 127.0.0.1",
        f"http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/v1": "host name is not valid",
        f"http://b\u00fccher.example:{port}/v1": "write it as xn--bcher-kva.example",
        f"http://127.0.0.1.:{port}/v1": "must not end with a dot",
    }
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=30) as client:
        admin = await _login(client, access["admin_email"], access["admin_password"])
        router = (await _created(client, admin, "/routers", {"name": "hooked"}))["id"]
        registration = {"name": "local", "catalogKey": "fake-gpt", "apiKey": "sk-x"}
        for url, reason in undeliverable.items():
            for method, path, body, field in (
                ("POST", "/observability/webhooks", {"routerId": router, "url": url}, "url"),
                ("POST", "/ai/registrations", {**registration, "baseUrl": url}, "baseUrl"),
                ("PUT", f"/routers/{router}/configuration", {"webhookUrl": url}, "webhookUrl"),
            ):
                status, answer = await _answer(client, admin, method, path, body)
                assert status == 400, (path, url, answer)
                assert any(reason in message for message in answer["fields"][field]), answer

        # The dotted-quad spelling of the same host is accepted, and delivered.
        status, made = await _answer(
            client, admin, "POST", "/ai/registrations",
            {**registration, "baseUrl": f"http://127.0.0.1:{port}/v1"},
        )  # fmt: skip
        assert status == 201, made

        async def answered() -> bool:
            response = await client.post(
                "/ai/infer",
                headers=admin,
                json={
                    "registrationId": made["id"],
                    "messages": [{"role": "user", "content": "hello"}],
                },
            )
            return response.status_code == 200

        await wait_for(answered, timeout=15, message="the registration answering")
