"""The audit log names who did it, as an admin reads it through the gateway: the admin's own
changes in every service (kind `user`), a job an API key submitted (kind `api_key`), and an
organisation the operator made with the auth CLI (kind `operator`)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from stack_support import Stack

from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e


async def _audit(client: httpx.AsyncClient, headers: dict[str, str], query: str) -> list[Any]:
    response = await client.get(f"/observability/audit?perPage=500&{query}", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, Any]:
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return dict(login.json())


async def test_the_audit_log_names_the_user_the_key_and_the_operator(stack: Stack) -> None:
    await stack.start()
    access = json.loads((stack.data_dir / "demo.json").read_text())
    upstream = f"http://127.0.0.1:{stack.base_port + 9}/v1"
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=30) as client:
        session = await _login(client, access["admin_email"], access["admin_password"])
        admin, admin_id = (
            {"authorization": f"Bearer {session['accessToken']}"},
            session["user"]["id"],
        )

        request_ids: dict[str, str] = {}

        async def created(path: str, body: dict[str, Any]) -> str:
            response = await client.post(path, headers=admin, json=body)
            assert response.status_code == 201, (path, response.text)
            request_ids[path] = response.headers["x-request-id"]
            return str(response.json().get("id") or response.json()["webhook"]["id"])

        made = {
            "auth.team.created": await created("/auth/teams", {"name": "Audited"}),
            "catalog.registration.created": await created(
                "/ai/registrations",
                {
                    "name": "audited",
                    "catalogKey": "fake-gpt",
                    "apiKey": "sk-x",
                    "baseUrl": upstream,
                },
            ),
            "router.router.created": await created("/routers", {"name": "audited"}),
            "prompts.prompt.created": await created(
                "/prompts", {"name": "audited", "text": "Hello {{name}}"}
            ),
        }
        made["observability.webhook.created"] = await created(
            "/observability/webhooks",
            {"routerId": made["router.router.created"], "url": "http://127.0.0.1:9/hook"},
        )

        async def admins_entries() -> dict[str, Any] | None:
            entries = await _audit(client, admin, f"actorId={admin_id}")
            found = {e["type"]: e for e in entries if e["aggregateId"] in made.values()}
            return found if set(found) == set(made) else None

        found = await wait_for(admins_entries, timeout=30, message="the admin's audit entries")
        for event_type, entry in found.items():
            assert (entry["aggregateId"], entry["actorKind"], entry["actorId"]) == (
                made[event_type], "user", admin_id,
            ), event_type  # fmt: skip

        # A job submitted with the demo's API key: its event names the key (jobs are
        # activity, not administration, so the audit log leaves them out; the bus has it).
        keys = (await client.get("/auth/api-keys", headers=admin)).json()["items"]
        key_id = next(k["id"] for k in keys if access["api_key"].startswith(k["prefix"]))
        nc = await connect_nats(stack.printed(r"NATS \(JetStream\) at (\S+),"), "e2e-audit")
        try:
            js = nc.jetstream()
            job = await client.post(
                "/ai/jobs",
                headers={"authorization": f"Bearer {access['api_key']}"},
                json={
                    "registrationId": made["catalog.registration.created"],
                    "messages": [{"role": "user", "content": "Hi"}],
                },
            )
            assert job.status_code in (200, 201, 202), job.text

            async def submitted() -> dict[str, str] | None:
                try:
                    msg = await js.get_last_msg("CATALOG", "catalog.job.submitted")
                except Exception:
                    return None
                body = json.loads(msg.data)
                return dict(msg.headers or {}) if body["aggregate_id"] == job.json()["id"] else None

            headers = await wait_for(submitted, timeout=20, message="catalog.job.submitted")
            team = await js.get_last_msg("AUTH", "auth.team.created")
        finally:
            await nc.drain()
        # The request id the admin was answered with is the one the team's event carries.
        assert team.headers is not None
        assert team.headers["Hs-Request-Id"] == request_ids["/auth/teams"]
        assert (headers["Hs-Actor-Kind"], headers["Hs-Actor-Id"]) == ("api_key", key_id)
        assert access["api_key"] not in json.dumps(headers)  # the key's id, never the key

        # The operator's CLI, on the stack's own database: its organisation's admin reads
        # what the CLI did in the audit log.
        output = await stack.operator_cli(
            "create-org", "--name", "Ops", "--admin-email", "ops@audit.example"
        )
        password = re.search(r"password:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
        ops = await _login(client, "ops@audit.example", password)
        ops_admin = {"authorization": f"Bearer {ops['accessToken']}"}

        async def operators_entries() -> list[Any] | None:
            entries = await _audit(client, ops_admin, "actorKind=operator")
            types = {e["type"] for e in entries}
            return (
                entries if {"auth.organization.created", "auth.api_key.created"} <= types else None
            )

        entries = await wait_for(operators_entries, timeout=30, message="the operator's entries")
        assert {e["actorId"] for e in entries} == {"cli"}
        theirs = await _audit(client, ops_admin, f"actorId={admin_id}")
        assert theirs == []  # the demo admin's entries belong to the other organisation
    assert await stack.interrupt() == 0
