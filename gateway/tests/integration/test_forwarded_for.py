"""The pass-through appends the address it saw to X-Forwarded-For, after any hops the client
wrote: what auth's login throttle counts as the client address behind the gateway."""

from __future__ import annotations

from typing import Any

import httpx

from hyperstrate_gateway.app import create_app
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app


class ForwardedForRecorder:
    """An admin service that remembers the X-Forwarded-For values it was sent."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": f"{message['type']}.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.seen.append([v.decode() for k, v in scope["headers"] if k == b"x-forwarded-for"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def test_the_gateway_appends_the_client_address_to_x_forwarded_for(
    infrastructure: Infrastructure,
) -> None:
    recorder = ForwardedForRecorder()
    async with serve_app(recorder) as service_url:
        settings = load_settings(
            GatewaySettings,
            environ={
                "NATS_URL": infrastructure.nats_url,
                "JWT_SECRET": "forwarded-test-secret-forwarded-test",
                **{
                    f"{name}_SERVICE_URL": service_url
                    for name in ("AUTH", "CATALOG", "ROUTER", "PROMPTS", "OBSERVABILITY")
                },
            },
        )
        async with (
            serve_app(create_app(settings)) as gateway_url,
            httpx.AsyncClient(base_url=gateway_url) as client,
        ):
            await client.post("/auth/login", json={})
            await client.post("/auth/login", json={}, headers={"X-Forwarded-For": "6.6.6.6"})
    # The client's own hop stays to the left of the one the gateway vouches for.
    assert recorder.seen == [["127.0.0.1"], ["6.6.6.6, 127.0.0.1"]]
