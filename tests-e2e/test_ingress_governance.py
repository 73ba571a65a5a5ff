"""One governance for every ingress: each route that reaches a provider, against the running
stack, with an unscoped key (passes), a key scoped to another router (403), a virtual key at
its cap (429 where a router enforces the cap, 403 with the reason at direct inference) and a
revoked key (401). A new route that reaches a provider is one line in `ROUTES`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
import pytest_asyncio
from stack_support import Stack, _free_port_block

from hyperstrate_kit.keys import DIRECT_INFERENCE_RULE
from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e

Body = Literal["openai", "anthropic", "direct", "send"]
MESSAGES = [{"role": "user", "content": "Hello"}]


@dataclasses.dataclass(frozen=True)
class Route:
    """A route that reaches a provider: `{router}` and `{conversation}` are filled in."""

    path: str
    body: Body
    through_router: bool  # False: direct inference, no router in between
    success: int = 200


ROUTES = [
    Route("/v1/chat/completions", "openai", through_router=True),
    Route("/v1/messages", "anthropic", through_router=True),
    Route("/router/{router}/infer", "openai", through_router=True),
    Route("/router/{router}/v1/chat/completions", "openai", through_router=True),
    Route("/router/{router}/v1/messages", "anthropic", through_router=True),
    Route("/proxy/router/{router}/v1/chat/completions", "openai", through_router=True),
    Route("/proxy/router/{router}/v1/messages", "anthropic", through_router=True),
    Route("/ai/infer", "direct", through_router=False),
    Route("/ai/jobs", "direct", through_router=False, success=202),
    Route("/ai/conversations/{conversation}/send", "send", through_router=False),
]


@dataclasses.dataclass
class World:
    """The stack with two routers on the fake upstream, a conversation, and the keys."""

    gateway: str
    admin: dict[str, str]
    router_id: str  # the router every route is called on
    router_name: str
    registration_id: str
    conversation_id: str
    unscoped_key: str
    other_router_key: str  # scoped to a second router only
    capped_key: str  # a virtual key with maxRequests 1, already spent
    revoked_key: str

    def request(self, route: Route) -> tuple[str, dict[str, Any]]:
        path = route.path.format(router=self.router_id, conversation=self.conversation_id)
        if route.body == "direct":
            return path, {"registrationId": self.registration_id, "messages": MESSAGES}
        if route.body == "send":
            return path, {"content": "Hello"}
        body: dict[str, Any] = {"model": self.router_name, "messages": MESSAGES}
        if route.body == "anthropic":
            body["max_tokens"] = 16
        return path, body

    async def call(self, route: Route, key: str) -> httpx.Response:
        path, body = self.request(route)
        headers = {"authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"}
        async with httpx.AsyncClient(base_url=self.gateway, timeout=20) as client:
            return await client.post(path, headers=headers, json=body)


def _message(response: httpx.Response) -> str:
    """The error message of any of the three envelopes (OpenAI, Anthropic, admin API)."""
    error = response.json()["error"]
    return str(error["message"] if isinstance(error, dict) else error)


async def _admin_call(
    client: httpx.AsyncClient, admin: dict[str, str], method: str, path: str, body: Any = None
) -> Any:
    response = await client.request(method, path, headers=admin, json=body)
    assert response.status_code < 300, (path, response.text)
    return response.json() if response.content else None


async def _router(
    client: httpx.AsyncClient, admin: dict[str, str], name: str, upstream: str
) -> tuple[str, str]:
    """A router with one target on the fake upstream: (router id, registration id)."""
    router = await _admin_call(client, admin, "POST", "/routers", {"name": name})
    registration = await _admin_call(
        client,
        admin,
        "POST",
        "/ai/registrations",
        {"name": name, "catalogKey": "fake-gpt", "apiKey": "sk-x", "baseUrl": upstream},
    )
    await _admin_call(
        client,
        admin,
        "POST",
        f"/routers/{router['id']}/targets",
        {"registrationId": registration["id"]},
    )
    return router["id"], registration["id"]


async def _until(world: World, route: Route, key: str, accepted: set[int], what: str) -> None:
    """Keys, routers and revocations reach the gateway and the catalog over the bus."""

    async def answered() -> bool:
        return (await world.call(route, key)).status_code in accepted

    await wait_for(answered, timeout=15, interval=0.1, message=what)


@pytest_asyncio.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    stack = Stack(tmp_path_factory.mktemp("governance") / "data", _free_port_block(10))
    await stack.start()
    try:
        yield await _build_world(stack)
    finally:
        await stack.interrupt()


async def _build_world(stack: Stack) -> World:
    access = json.loads((stack.data_dir / "demo.json").read_text())
    upstream = f"http://127.0.0.1:{stack.base_port + 9}/v1"
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=20) as client:
        login = await _admin_call(
            client,
            {},
            "POST",
            "/auth/login",
            {"email": access["admin_email"], "password": access["admin_password"]},
        )
        admin = {"authorization": f"Bearer {login['accessToken']}"}
        router_id, registration_id = await _router(client, admin, "governed", upstream)
        other_router_id, _ = await _router(client, admin, "elsewhere", upstream)
        # The unscoped key's own: a conversation is its creator's (and an admin session's).
        conversation = await _admin_call(
            client,
            {"authorization": f"Bearer {access['api_key']}"},
            "POST",
            "/ai/conversations",
            {"title": "governed", "registrationId": registration_id},
        )

        async def key(path: str, body: dict[str, Any]) -> tuple[str, str]:
            created = await _admin_call(client, admin, "POST", path, body)
            return created["key"], created.get("apiKey", created.get("virtualKey", {})).get("id")

        other_router_key, _ = await key(
            "/auth/api-keys", {"name": "elsewhere only", "routerIds": [other_router_id]}
        )
        capped_key, _ = await key("/auth/virtual-keys", {"name": "capped", "maxRequests": 1})
        revoked_key, revoked_id = await key("/auth/api-keys", {"name": "to revoke"})
    world = World(
        gateway=stack.url("gateway"), admin=admin, router_id=router_id, router_name="governed",
        registration_id=registration_id, conversation_id=conversation["id"],
        unscoped_key=access["api_key"], other_router_key=other_router_key,
        capped_key=capped_key, revoked_key=revoked_key,
    )  # fmt: skip
    chat = next(route for route in ROUTES if route.path == "/v1/chat/completions")
    direct = next(route for route in ROUTES if route.path == "/ai/infer")
    await _until(world, chat, world.unscoped_key, {200}, "the router answering")
    # The scoped key works on its own router, so its 403s below are about scope alone.
    own_router = dataclasses.replace(world, router_id=other_router_id, router_name="elsewhere")
    await _until(own_router, chat, other_router_key, {200}, "the scoped key on its own router")
    await _until(world, direct, other_router_key, {403}, "the scoped key known to the catalog")
    # One request spends the virtual key's only one.
    await _until(world, chat, capped_key, {200}, "the capped key's one request")
    await _until(world, direct, capped_key, {403}, "the capped key known to the catalog")
    # The key to revoke works everywhere first, so its 401s below are about revocation alone.
    await _until(world, chat, revoked_key, {200}, "the key to revoke known to the gateway")
    await _until(world, direct, revoked_key, {200}, "the key to revoke known to the catalog")
    async with httpx.AsyncClient(base_url=world.gateway, timeout=20) as client:
        await _admin_call(client, admin, "DELETE", f"/auth/api-keys/{revoked_id}")
    return world


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
async def test_an_unscoped_key_reaches_the_provider(world: World, route: Route) -> None:
    response = await world.call(route, world.unscoped_key)
    assert response.status_code == route.success, response.text


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
async def test_a_key_scoped_to_another_router_is_refused(world: World, route: Route) -> None:
    response = await world.call(route, world.other_router_key)
    assert response.status_code == 403, response.text
    if route.through_router:
        assert _message(response) == "this key may not use this router"
    else:
        assert _message(response) == "this key may only call its routers; " + DIRECT_INFERENCE_RULE


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
async def test_a_virtual_key_at_its_cap_is_refused(world: World, route: Route) -> None:
    response = await world.call(route, world.capped_key)
    if route.through_router:
        assert response.status_code == 429, response.text
        assert "budget exceeded" in _message(response)
    else:
        assert response.status_code == 403, response.text
        assert _message(response).startswith("a virtual key may only call routers")


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: route.path)
async def test_a_revoked_key_is_unauthorized(world: World, route: Route) -> None:
    await _until(world, route, world.revoked_key, {401}, f"the revocation reaching {route.path}")
    response = await world.call(route, world.revoked_key)
    assert response.status_code == 401
    assert _message(response) == "invalid, revoked or expired API key"
