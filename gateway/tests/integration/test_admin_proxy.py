"""The gateway passes the admin APIs through: one base URL for everything."""

from __future__ import annotations

import httpx

from hyperstrate_auth.app import create_app as create_auth_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_gateway.app import create_app as create_gateway_app
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name


async def test_admin_routes_reach_their_service_with_status_headers_and_body(
    infrastructure: Infrastructure,
) -> None:
    common = {
        "NATS_URL": infrastructure.nats_url,
        "JWT_SECRET": "proxy-test-secret-proxy-test-secret",
    }
    auth_app = create_auth_app(
        load_settings(
            AuthSettings,
            environ={
                **common,
                "DATABASE_URL": infrastructure.database_url,
                "DATABASE_NAME": unique_name("gwauth"),
            },
        )
    )
    async with serve_app(auth_app) as auth_url:
        gateway_app = create_gateway_app(
            load_settings(
                GatewaySettings,
                environ={
                    **common,
                    "AUTH_SERVICE_URL": auth_url,
                    "CATALOG_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
                },
            )
        )
        async with (
            serve_app(gateway_app) as gateway_url,
            httpx.AsyncClient(base_url=gateway_url) as client,
        ):
            assert (await client.get("/auth/setup/status")).json() == {"setupRequired": True}
            setup = await client.post(
                "/auth/setup",
                json={
                    "organizationName": "Via gateway",
                    "email": "a@gw.example",
                    "password": "long-enough",
                },
            )
            assert setup.status_code == 201
            token = setup.json()["accessToken"]
            teams = await client.get(
                "/auth/teams?perPage=5", headers={"Authorization": f"Bearer {token}"}
            )
            assert teams.status_code == 200 and teams.json()["perPage"] == 5
            assert teams.headers["x-request-id"]
            bad = await client.post(
                "/auth/teams", headers={"Authorization": f"Bearer {token}"}, json={"name": ""}
            )
            assert bad.status_code == 400 and "name" in bad.json()["fields"]
            unauthorized = await client.get("/auth/teams")
            assert unauthorized.status_code == 401
            # A service that is down is a clear 503 in the envelope, not a hang or a 500.
            down = await client.get("/ai/catalog")
            assert down.status_code == 503
            assert down.json() == {"error": "ai service unavailable", "fields": {}}
