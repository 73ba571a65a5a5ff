"""Sessions, logins and tenants hardened, against the stack `just up` runs, through the
gateway as a user and an attacker meet them: a replayed refresh token ends its family and
shows in the audit log; wrong passwords get 429 with Retry-After, alike for an account that
does not exist; another organisation's router is a 404 exactly like one that never existed;
an e-mail of another organisation is not disclosed; tenant admins cannot create
organisations; answers carrying a token or a key are never stored."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from stack_support import Stack, _free_port_block

from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e

B_ADMIN = {"email": "admin@b-corp.example", "password": "b-corp admin password"}


@dataclasses.dataclass(frozen=True)
class Tenants:
    gateway: str
    a_admin: dict[str, str]
    a_email: str
    a_password: str
    a_router: str
    b_admin: dict[str, str]


async def _create_org_b(stack: Stack) -> None:
    """Org B, made as the operator does: the CLI on the server."""
    env = {
        **os.environ,
        "DATABASE_URL": stack.printed(r"PostgreSQL at (\S+),"),
        "NATS_URL": stack.printed(r"NATS \(JetStream\) at (\S+),"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hyperstrate_auth.cli", "create-org", "--name", "B Corp",
        "--admin-email", B_ADMIN["email"], "--admin-password", B_ADMIN["password"],
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, output.decode()


async def _bearer(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    login = await client.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['accessToken']}"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenants(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Tenants]:
    stack = Stack(tmp_path_factory.mktemp("auth-hardening") / "data", _free_port_block(10))
    await stack.start()
    try:
        access = json.loads((stack.data_dir / "demo.json").read_text())
        await _create_org_b(stack)
        async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=20) as client:
            a_admin = await _bearer(client, access["admin_email"], access["admin_password"])
            router = await client.post("/routers", headers=a_admin, json={"name": "a-only"})
            assert router.status_code == 201, router.text
            yield Tenants(
                gateway=stack.url("gateway"),
                a_admin=a_admin,
                a_email=access["admin_email"],
                a_password=access["admin_password"],
                a_router=router.json()["id"],
                b_admin=await _bearer(client, B_ADMIN["email"], B_ADMIN["password"]),
            )
    finally:
        await stack.interrupt()


def _client(tenants: Tenants) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=tenants.gateway, timeout=20)


async def test_a_replayed_refresh_token_ends_its_family_and_is_in_the_audit_log(
    tenants: Tenants,
) -> None:
    async with _client(tenants) as client:
        body = {"email": tenants.a_email, "password": tenants.a_password}
        stolen = (await client.post("/auth/login", json=body)).json()
        renewed = await client.post("/auth/refresh", json={"refreshToken": stolen["refreshToken"]})
        assert renewed.status_code == 200
        replayed = await client.post("/auth/refresh", json={"refreshToken": stolen["refreshToken"]})
        assert replayed.status_code == 401
        newer = await client.post(
            "/auth/refresh", json={"refreshToken": renewed.json()["refreshToken"]}
        )
        assert newer.status_code == 401  # the owner's newer token ended with it

        async def audited() -> list[Any]:
            answer = await client.get(
                "/observability/audit?type=auth.session.reuse_detected", headers=tenants.a_admin
            )
            assert answer.status_code == 200, answer.text
            return list(answer.json()["items"])

        entries = await wait_for(audited, timeout=30, message="the reuse in the audit log")
    entry = entries[0]
    assert (entry["service"], entry["aggregateType"], entry["action"]) == (
        "auth", "session", "reuse_detected",
    )  # fmt: skip
    assert (entry["actorKind"], entry["actorId"]) == ("system", "refresh-token-reuse")
    assert entry["data"]["user_id"] == stolen["user"]["id"]
    assert entry["data"]["sessions_ended"] == 1


async def test_wrong_passwords_get_429_with_retry_after_alike_for_unknown_accounts(
    tenants: Tenants,
) -> None:
    async with _client(tenants) as client:
        created = await client.post(
            "/auth/users",
            headers=tenants.a_admin,
            json={"email": "victim@a.example", "password": "victim's password", "name": "V"},
        )
        assert created.status_code == 201, created.text
        answers: dict[str, list[tuple[int, Any]]] = {}
        for email in ("victim@a.example", "nobody@a.example"):
            seen = []
            for _ in range(6):  # five are free; the sixth blocks the account for a second
                wrong = await client.post(
                    "/auth/login", json={"email": email, "password": "a wrong guess"}
                )
                seen.append((wrong.status_code, wrong.json()))
            throttled = await client.post(
                "/auth/login", json={"email": email, "password": "victim's password"}
            )
            assert throttled.headers["retry-after"] == "1"
            seen.append((throttled.status_code, throttled.json()))
            answers[email] = seen
    assert answers["victim@a.example"] == answers["nobody@a.example"]
    assert [status for status, _ in answers["nobody@a.example"]] == [401] * 6 + [429]


async def test_another_organizations_router_is_a_404_like_one_that_never_existed(
    tenants: Tenants,
) -> None:
    async with _client(tenants) as client:
        team = await client.post("/auth/teams", headers=tenants.b_admin, json={"name": "B team"})
        grant = {"teamId": team.json()["id"]}
        answers = []
        for router_id in (tenants.a_router, "rtr_never_existed"):
            url = f"/auth/routers/{router_id}/teams"
            listed = await client.get(url, headers=tenants.b_admin)
            granted = await client.post(url, headers=tenants.b_admin, json=grant)
            answers.append([(r.status_code, r.json()) for r in (listed, granted)])
        scoped = await client.post(
            "/auth/api-keys",
            headers=tenants.b_admin,
            json={"name": "k", "routerIds": [tenants.a_router]},
        )
        own = await client.get(f"/auth/routers/{tenants.a_router}/teams", headers=tenants.a_admin)
    assert answers[0] == answers[1] == [(404, {"error": "router not found", "fields": {}})] * 2
    assert scoped.status_code == 400 and "routerIds" in scoped.json()["fields"]
    assert (own.status_code, own.json()) == (200, [])


async def test_an_email_of_another_organization_is_not_disclosed(tenants: Tenants) -> None:
    async with _client(tenants) as client:
        created = await client.post(
            "/auth/users",
            headers=tenants.b_admin,
            json={"email": tenants.a_email, "password": "b's namesake password", "name": "N"},
        )
        assert created.status_code == 201, created.text
        as_b = await client.post(
            "/auth/login", json={"email": tenants.a_email, "password": "b's namesake password"}
        )
        as_a = await client.post(
            "/auth/login", json={"email": tenants.a_email, "password": tenants.a_password}
        )
    assert as_b.json()["user"]["name"] == "N" and as_a.json()["user"]["role"] == "admin"
    assert as_b.json()["user"]["orgId"] != as_a.json()["user"]["orgId"]


async def test_tenant_admins_cannot_create_organizations(tenants: Tenants) -> None:
    async with _client(tenants) as client:
        refused = await client.post(
            "/auth/organizations",
            headers=tenants.a_admin,
            json={"name": "Mine", "adminEmail": "c@c.example", "adminPassword": "c password!"},
        )
        listed = await client.get("/auth/organizations", headers=tenants.a_admin)
    assert refused.status_code == 403
    assert "python -m hyperstrate_auth.cli create-org" in refused.json()["error"]
    assert listed.json()["total"] == 1


async def test_answers_with_a_token_or_a_key_are_not_stored_by_caches(tenants: Tenants) -> None:
    async with _client(tenants) as client:
        login = await client.post(
            "/auth/login", json={"email": tenants.a_email, "password": tenants.a_password}
        )
        refreshed = await client.post(
            "/auth/refresh", json={"refreshToken": login.json()["refreshToken"]}
        )
        key = await client.post("/auth/api-keys", headers=tenants.a_admin, json={"name": "k"})
        virtual = await client.post(
            "/auth/virtual-keys", headers=tenants.a_admin, json={"name": "v"}
        )
        listed = await client.get("/auth/api-keys", headers=tenants.a_admin)
    for answer in (login, refreshed, key, virtual):
        assert answer.status_code in (200, 201), answer.text
        assert answer.headers.get_list("cache-control") == ["no-store"], answer.request.url
    assert "no-store" not in listed.headers.get("cache-control", "")
