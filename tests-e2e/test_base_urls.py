"""A registration's base URL follows one rule on the router path and on `/ai/infer`: the
catalog's outbound rule (`OUTBOUND_ALLOW_PRIVATE`, `OUTBOUND_ALLOWED_HOSTS`), with DNS.

The lab's model server has a name that looks public and resolves to loopback, as an internal
DNS name does: the test's DNS answers for it (the one outside network faked), and the fake
upstream listens there. Refused by default on both paths alike; allowed by naming the host,
on both paths alike. Catalog, router and gateway run here, on real NATS and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import pytest
import uvicorn.config

from hyperstrate_catalog.app import create_app as create_catalog_app
from hyperstrate_catalog.settings import CatalogSettings
from hyperstrate_contracts import Event
from hyperstrate_contracts.auth import ApiKeyCreated, UserCreated
from hyperstrate_contracts.router import RouterCreated, RouterTargetAdded
from hyperstrate_gateway.app import create_app as create_gateway_app
from hyperstrate_gateway.settings import GatewaySettings
from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.security import generate_key
from hyperstrate_kit.service import create_service_app
from hyperstrate_kit.sessions import Principal, issue_access_token
from hyperstrate_kit.settings import load_settings
from hyperstrate_kit.testing import Infrastructure, serve_app, unique_name, wait_for
from hyperstrate_providers.fake_upstream import FakeUpstream
from hyperstrate_router.settings import RouterSettings
from hyperstrate_router.worker import INFERENCE_WORKER

pytestmark = pytest.mark.e2e

LAB_HOST = "models.lab.example"
JWT_SECRET = "base-url-rule-test-secret-base-url-rule"
SECRETS_KEY = "q2Jx1Yt9l0GmD8bWQ7o7c1kz2sD0XcWm3z6b1rJjNqA="
MESSAGES = [{"role": "user", "content": "hello"}]
REFUSED = "base URL refused: host resolves to a non-public address"


@pytest.fixture
def lab_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The lab's DNS: `LAB_HOST` resolves to 127.0.0.1, every other name as before. The apps
    served here run on asyncio's loop, which resolves through `socket.getaddrinfo` (uvloop
    would ask the system's resolver directly)."""
    monkeypatch.setitem(
        uvicorn.config.LOOP_FACTORIES, "auto", "uvicorn.loops.asyncio:asyncio_loop_factory"
    )
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        named = host.decode() if isinstance(host, bytes) else host
        return resolve("127.0.0.1" if named == LAB_HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield


@dataclass
class World:
    catalog: httpx.AsyncClient
    gateway: httpx.AsyncClient
    admin: dict[str, str]
    key: dict[str, str]
    org_id: str
    nats_url: str


@contextlib.asynccontextmanager
async def running(infrastructure: Infrastructure, **catalog_overrides: str) -> AsyncIterator[World]:
    """Catalog, router hot path and gateway; the catalog's outbound rule as given (the router
    and gateway are given none: the catalog's is the one rule)."""
    common = {"NATS_URL": infrastructure.nats_url, "JWT_SECRET": JWT_SECRET, "APP_ENV": "test"}
    catalog_settings = load_settings(
        CatalogSettings,
        environ={
            **common,
            "DATABASE_URL": infrastructure.database_url,
            "DATABASE_NAME": unique_name("catalog"),
            "SECRETS_KEY": SECRETS_KEY,
            "OUTBOUND_ALLOW_PRIVATE": "false",
            **catalog_overrides,
        },
    )
    # No observability here to restore budget spend from: the router need not wait for it.
    router_environ = {**common, "BUDGET_RESTORE_TIMEOUT_SECS": "0.5"}
    router_app = create_service_app(
        INFERENCE_WORKER, load_settings(RouterSettings, environ=router_environ)
    )
    gateway_app = create_gateway_app(load_settings(GatewaySettings, environ=common))
    org_id, user_id = unique_name("org"), unique_name("usr")
    async with (
        serve_app(create_catalog_app(catalog_settings)) as catalog_url,
        serve_app(router_app) as router_url,
        serve_app(gateway_app) as gateway_url,
        httpx.AsyncClient(base_url=catalog_url, timeout=30) as catalog,
        httpx.AsyncClient(base_url=gateway_url, timeout=30) as gateway,
    ):
        await _until_ready(router_url)  # in the router queue group
        key = await _admin_with_key(infrastructure.nats_url, org_id, user_id)
        token = issue_access_token(
            Principal(org_id=org_id, user_id=user_id, role="admin"), JWT_SECRET
        )
        yield World(
            catalog=catalog,
            gateway=gateway,
            admin={"Authorization": f"Bearer {token}"},
            key={"Authorization": f"Bearer {key}"},
            org_id=org_id,
            nats_url=infrastructure.nats_url,
        )


async def _until_ready(base_url: str) -> None:
    last: list[str] = [""]
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:

        async def ready() -> bool:
            answer = await client.get("/readyz")
            last[0] = answer.text
            return answer.status_code == 200

        try:
            await wait_for(ready, timeout=30, message=f"{base_url}/readyz")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last /readyz: {last[0]}") from None


async def _admin_with_key(nats_url: str, org_id: str, user_id: str) -> str:
    """Act as the auth service: an admin and an unscoped API key of theirs."""
    generated = generate_key("hs_")
    events: list[Event] = [
        UserCreated(org_id=org_id, aggregate_id=user_id, email=f"{user_id}@lab.example",
                    name="Admin", role="admin"),
        ApiKeyCreated(org_id=org_id, aggregate_id=unique_name("key"), name="lab",
                      prefix=generated.prefix, key_hash=generated.hash, user_id=user_id,
                      role="admin"),
    ]  # fmt: skip
    await _publish(nats_url, events)
    return generated.key


async def _publish(nats_url: str, events: list[Event]) -> None:
    nc = await connect_nats(nats_url, "base-url-test")
    try:
        for event in events:
            await nc.jetstream().publish(
                event.type, msgspec.json.encode(event), headers={"Nats-Msg-Id": event.event_id}
            )
    finally:
        await nc.drain()


async def _registered_router(world: World, base_url: str) -> str:
    """A registration of `base_url` behind a new router (as the router admin API would
    publish it); returns the router's name."""
    registration = await world.catalog.post(
        "/ai/registrations",
        headers=world.admin,
        json={"name": "lab", "catalogKey": "fake-gpt", "apiKey": "sk-lab", "baseUrl": base_url},
    )
    assert registration.status_code == 201, registration.text
    router_id, name = f"rtr_{uuid.uuid4().hex[:10]}", unique_name("lab")
    await _publish(
        world.nats_url,
        [
            RouterCreated(org_id=world.org_id, aggregate_id=router_id, name=name),
            RouterTargetAdded(
                org_id=world.org_id,
                aggregate_id=router_id,
                target_id="tgt_lab",
                registration_id=registration.json()["id"],
                priority=0,
            ),
        ],
    )
    await _until_known(world, name, registration.json()["id"])
    return name


async def _until_known(world: World, router: str, registration_id: str) -> None:
    """Until the gateway and router know the router and the key, and the catalog the key."""

    async def known() -> bool:
        routed = await _via_router(world, router)
        direct = await _direct(world, registration_id)
        return routed.status_code not in (401, 404, 503) and direct.status_code != 401

    await wait_for(known, timeout=20, message="the router and the key to be known")


async def _via_router(world: World, router: str) -> httpx.Response:
    return await world.gateway.post(
        "/v1/chat/completions", headers=world.key, json={"model": router, "messages": MESSAGES}
    )


async def _direct(world: World, registration_id: str) -> httpx.Response:
    return await world.catalog.post(
        "/ai/infer",
        headers=world.key,
        json={"registrationId": registration_id, "messages": MESSAGES},
    )


async def _registration_of(world: World) -> str:
    listed = await world.catalog.get("/ai/registrations", headers=world.admin)
    return str(listed.json()["items"][0]["id"])


async def test_a_name_resolving_to_loopback_is_refused_on_both_paths_alike(
    infrastructure: Infrastructure, lab_dns: None
) -> None:
    async with FakeUpstream(record_requests=True) as upstream, running(infrastructure) as world:
        port = urlsplit(upstream.base_url).port
        # As written, loopback is refused when the registration is given.
        literal = await world.catalog.post(
            "/ai/registrations",
            headers=world.admin,
            json={"name": "x", "catalogKey": "fake-gpt", "baseUrl": upstream.base_url + "/v1"},
        )
        assert literal.status_code == 400 and "baseUrl" in literal.json()["fields"]

        # A name that looks public passes then; what it resolves to is judged at each call.
        router = await _registered_router(world, f"http://{LAB_HOST}:{port}/v1")
        routed = await _via_router(world, router)
        assert routed.status_code == 400, routed.text
        assert REFUSED in routed.json()["error"]["message"]
        direct = await _direct(world, await _registration_of(world))
        assert direct.status_code == 400, direct.text
        assert REFUSED in direct.json()["error"]
        assert upstream.requests == []  # neither path called it


async def test_naming_the_host_allows_a_local_model_server_on_both_paths(
    infrastructure: Infrastructure, lab_dns: None
) -> None:
    async with (
        FakeUpstream(record_requests=True) as upstream,
        running(infrastructure, OUTBOUND_ALLOWED_HOSTS=LAB_HOST) as world,
    ):
        port = urlsplit(upstream.base_url).port
        router = await _registered_router(world, f"http://{LAB_HOST}:{port}/v1")
        routed = await _via_router(world, router)
        assert routed.status_code == 200, routed.text
        direct = await _direct(world, await _registration_of(world))
        assert direct.status_code == 200, direct.text
        assert len(upstream.requests) >= 2
        assert {r.headers["host"] for r in upstream.requests} == {f"{LAB_HOST}:{port}"}
