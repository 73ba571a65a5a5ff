"""The operator CLI creates an organisation, an admin who can log in, and a working key."""

from __future__ import annotations

import asyncio
import os
import re
import sys

import httpx
from auth_support import bearer

from hyperstrate_auth.app import create_app
from hyperstrate_auth.cli import MIGRATIONS
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_contracts.auth import auth_registry
from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.database import Database
from hyperstrate_kit.eventstore import EventStore
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hyperstrate_auth.cli",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def test_create_org_prints_admin_password_and_key(infrastructure: Infrastructure) -> None:
    env = {
        "DATABASE_URL": infrastructure.database_url,
        "DATABASE_NAME": unique_name("authcli"),
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": "cli-test-secret-cli-test-secret-x",
    }
    code, output = await _cli(env, "create-org", "--name", "Ops", "--admin-email", "ops@x.example")
    assert code == 0, output
    password = re.search(r"password:\s+(\S+)", output).group(1)  # type: ignore[union-attr]
    key = re.search(r"api key:\s+(hs_\S+)", output).group(1)  # type: ignore[union-attr]

    # E-mails are unique per organisation: the same person may administer another one.
    second_code, second = await _cli(
        env, "create-org", "--name", "Ops2", "--admin-email", "ops@x.example"
    )
    assert second_code == 0, second
    ambiguous_code, ambiguous = await _cli(env, "create-key", "--email", "ops@x.example")
    assert ambiguous_code == 1 and "several organizations" in ambiguous

    # The audit log will name the operator's command line for each change it made.
    database = await Database.open(
        env["DATABASE_URL"], env["DATABASE_NAME"], migrations=MIGRATIONS, pool_size=1
    )
    try:
        recorded = await EventStore(database, auth_registry()).read_all()
    finally:
        await database.close()
    assert {stored.event.type for stored in recorded} >= {
        "auth.organization.created",
        "auth.user.created",
        "auth.api_key.created",
    }
    assert {stored.actor for stored in recorded} == {Actor(kind="operator", id="cli")}

    settings = AuthSettings(
        database_url=env["DATABASE_URL"],
        database_name=env["DATABASE_NAME"],
        nats_url=env["NATS_URL"],
        jwt_secret=env["JWT_SECRET"],
    )
    async with serve_app(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
        login = await client.post(
            "/auth/login", json={"email": "ops@x.example", "password": password}
        )
        assert login.status_code == 200
        keys = (await client.get("/auth/api-keys", headers=bearer(login.json()))).json()
        assert keys["total"] == 1 and key.startswith(keys["items"][0]["prefix"])
        status = (await client.get("/auth/setup/status")).json()
        assert status == {"setupRequired": False}
