"""The gateway passes the admin APIs through: one base URL for everything, each path
forwarded exactly as sent, and a path that could reach another endpoint refused."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from hyperstrate_auth.app import create_app as create_auth_app
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_gateway.app import create_app as create_gateway_app
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name


class RecordingService:
    """An admin service that answers with the request target it received, as bytes: what
    the pass-through forwarded, seen from the other side of a real socket."""

    def __init__(self, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
        self.targets: list[bytes] = []
        self.request_ids: list[str] = []
        self.extra_headers = extra_headers or []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": f"{message['type']}.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        query = scope["query_string"]
        target = scope["raw_path"] + (b"?" + query if query else b"")
        self.targets.append(target)
        self.request_ids += [v.decode() for k, v in scope["headers"] if k == b"x-request-id"]
        body = json.dumps({"target": target.decode("latin-1")}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), *self.extra_headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def admin_gateway(
    infrastructure: Infrastructure, routers: RecordingService
) -> AsyncIterator[httpx.AsyncClient]:
    """A real auth service and the router stand-in behind a gateway; a client of the gateway."""
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
    async with serve_app(auth_app) as auth_url, serve_app(routers) as routers_url:
        gateway_app = create_gateway_app(
            load_settings(
                GatewaySettings,
                environ={
                    **common,
                    "AUTH_SERVICE_URL": auth_url,
                    "ROUTER_SERVICE_URL": routers_url,
                    "CATALOG_SERVICE_URL": f"http://127.0.0.1:{free_port()}",
                },
            )
        )
        async with (
            serve_app(gateway_app) as gateway_url,
            httpx.AsyncClient(base_url=gateway_url, timeout=10) as client,
        ):
            yield client


async def test_admin_routes_reach_their_service_with_status_headers_and_body(
    infrastructure: Infrastructure,
) -> None:
    async with admin_gateway(infrastructure, RecordingService()) as client:
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


async def test_the_service_gets_the_request_id_the_client_is_answered_with(
    infrastructure: Infrastructure,
) -> None:
    routers = RecordingService()
    async with admin_gateway(infrastructure, routers) as client:
        generated = await client.get("/routers")
        chosen = await client.get("/routers", headers={"x-request-id": "client-chosen-1"})
    # One id per request, the same on both sides, so the service's logs and the events it
    # records (Hs-Request-Id) name what the client was told.
    assert generated.headers.get_list("x-request-id") == [routers.request_ids[0]]
    assert chosen.headers.get_list("x-request-id") == ["client-chosen-1"]
    assert routers.request_ids == [routers.request_ids[0], "client-chosen-1"]


async def test_path_and_query_go_upstream_exactly_as_sent(infrastructure: Infrastructure) -> None:
    routers = RecordingService()
    async with admin_gateway(infrastructure, routers) as client:
        sent = [
            b"/routers/rtr%5F1/targets?name=a%2Bb+c&tag=%26x&tag=y&empty=",
            b"/routers/caf%C3%A9/features/f%201",
            b"/routers",
        ]
        for target in sent:
            answer = await client.get("/", extensions={"target": target})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"target": target.decode()}
        assert routers.targets == sent


CONFUSING_PATHS = [
    # (request target as sent, a piece of the reason)
    (b"/auth/..%2Fmetrics", "%2F"),
    (b"/auth/..%2fmetrics", "%2F"),
    (b"/ai/conversations/x%2F..%2F..%2Fregistrations", "%2F"),
    (b"/auth/users/%23x", "'#'"),
    (b"/auth/users%3Fpage=2", "'?'"),
    (b"/routers/a%5C..%5Cmetrics", "'\\'"),
    (b"/routers/abc%0Fdef", "control"),
    (b"/routers/x%0d%0aforged", "control"),
    (b"/routers/x%00y", "NUL"),
    (b"/auth/users/../../metrics", "'..'"),
    (b"/auth/%2E%2E/metrics", "'..'"),
    (b"/routers/./x", "'.'"),
]


async def test_a_path_that_decodes_to_another_endpoint_is_a_400_and_never_forwarded(
    infrastructure: Infrastructure,
) -> None:
    routers = RecordingService()
    async with admin_gateway(infrastructure, routers) as client:
        for target, reason in CONFUSING_PATHS:
            # No credentials: before, `/auth/..%2Fmetrics` answered with auth's metrics.
            answer = await client.get("/", extensions={"target": target})
            assert answer.status_code == 400, (target, answer.status_code, answer.text[:200])
            body = answer.json()
            assert reason in body["error"] and set(body) == {"error", "fields"}, (target, body)
            if reason != "NUL":  # the request middleware refuses a NUL before any route
                assert list(body["fields"]) == ["path"] and body["fields"]["path"], body
        assert routers.targets == []


async def test_an_answer_passed_through_carries_each_header_once_and_every_cookie(
    infrastructure: Infrastructure,
) -> None:
    routers = RecordingService(
        [
            (b"set-cookie", b"hs_session=abc; HttpOnly; Path=/"),
            (b"set-cookie", b"hs_csrf=def; Path=/"),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
        ]
    )
    async with admin_gateway(infrastructure, routers) as client:
        answer = await client.get("/routers", headers={"x-request-id": "once-1"})
        # Both the service's server and the gateway's say `server` and `date`: one of each.
        for name in ("server", "date", "content-type", "x-request-id", "x-content-type-options"):
            assert len(answer.headers.get_list(name)) == 1, (name, answer.headers)
        assert answer.headers["x-request-id"] == "once-1"
        assert answer.headers.get_list("set-cookie") == [
            "hs_session=abc; HttpOnly; Path=/",
            "hs_csrf=def; Path=/",
        ]
        assert answer.headers["cache-control"] == "no-store"  # a token's answer stays uncached
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.json() == {"target": "/routers"}


async def test_a_real_service_behind_the_gateway_answers_with_single_cors_and_security_headers(
    infrastructure: Infrastructure,
) -> None:
    async with admin_gateway(infrastructure, RecordingService()) as client:
        origin = {"origin": "http://localhost:8080"}
        answer = await client.get("/auth/setup/status", headers=origin)
        assert answer.status_code == 200
        for name in (
            "access-control-allow-origin",
            "server",
            "date",
            "x-request-id",
            "x-content-type-options",
            "x-frame-options",
            "content-security-policy",
        ):
            assert len(answer.headers.get_list(name)) == 1, (name, answer.headers)
        assert answer.headers["access-control-allow-origin"] == "http://localhost:8080"
