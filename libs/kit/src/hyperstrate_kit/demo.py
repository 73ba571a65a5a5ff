"""The demo `just up` seeds on first start, through the public HTTP APIs as a user would:
an organisation and its admin, an API key, a registration on the fake upstream and a router.

What a user needs to try it (the admin login and the key) is kept in `DATA_DIR/demo.json`
(mode 600, on the developer's own machine) so that later starts can print it again.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

__all__ = ["DemoAccess", "seed_demo"]

DEMO_ROUTER = "demo"


@dataclass(frozen=True)
class DemoAccess:
    """How to use the demo."""

    admin_email: str
    admin_password: str
    api_key: str
    router: str = DEMO_ROUTER

    def instructions(self, gateway: str) -> list[str]:
        """The lines `just up` prints."""
        return [
            f"Admin login: {self.admin_email} / {self.admin_password}",
            f"Demo API key: {self.api_key}   (router '{self.router}' on the fake upstream)",
            "Try it:",
            f"  curl {gateway}/v1/chat/completions -H 'authorization: Bearer {self.api_key}' "
            f'-H \'content-type: application/json\' -d \'{{"model": "{self.router}", '
            '"messages": [{"role": "user", "content": "Hello!"}]}\'',
            "Or with the OpenAI SDK:",
            "  from openai import OpenAI",
            f"  client = OpenAI(base_url='{gateway}/v1', api_key='{self.api_key}')",
            f"  answer = client.chat.completions.create(model='{self.router}', "
            "messages=[{'role': 'user', 'content': 'Hello!'}])",
            "  print(answer.choices[0].message.content)",
        ]


async def seed_demo(
    *,
    gateway_url: str,
    upstream_url: str,
    state_file: Path,
    admin_email: str = "",
    admin_password: str = "",
) -> DemoAccess | None:
    """Seed on an empty stack; on a seeded one return what was saved; None if the stack was
    set up by hand (nothing is touched then)."""
    if state_file.exists():
        return DemoAccess(**json.loads(state_file.read_text()))
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        status = (await client.get("/auth/setup/status")).raise_for_status().json()
        if not status["setupRequired"]:
            return None
        email = admin_email or "admin@hyperstrate.local"
        password = admin_password or secrets.token_urlsafe(12)
        session = await _ok(
            client.post(
                "/auth/setup",
                json={
                    "organizationName": "Demo",
                    "email": email,
                    "password": password,
                    "name": "Admin",
                },
            )
        )
        admin = {"authorization": f"Bearer {session['accessToken']}"}
        key = await _ok(client.post("/auth/api-keys", headers=admin, json={"name": "demo"}))
        registration = await _ok(
            client.post(
                "/ai/registrations",
                headers=admin,
                json={
                    "name": "demo-fake-gpt",
                    "catalogKey": "fake-gpt",
                    "apiKey": "sk-demo-not-secret",
                    "baseUrl": f"{upstream_url}/v1",
                },
            )
        )
        router = await _ok(client.post("/routers", headers=admin, json={"name": DEMO_ROUTER}))
        await _ok(
            client.post(
                f"/routers/{router['id']}/targets",
                headers=admin,
                json={"registrationId": registration["id"]},
            )
        )
        access = DemoAccess(admin_email=email, admin_password=password, api_key=str(key["key"]))
        _save(state_file, access)
        await _until_answering(client, access)
        return access


async def _ok(call: object) -> dict[str, object]:
    response: httpx.Response = await call  # type: ignore[misc]
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    body: dict[str, object] = response.json()
    return body


def _save(state_file: Path, access: DemoAccess) -> None:
    state_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(access), file)


async def _until_answering(
    client: httpx.AsyncClient, access: DemoAccess, timeout: float = 15.0
) -> None:
    """The gateway and the router learn of the new key and router from the bus: wait for it."""
    deadline = time.monotonic() + timeout
    body = {"model": access.router, "messages": [{"role": "user", "content": "warm up"}]}
    while time.monotonic() < deadline:
        response = await client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {access.api_key}"}
        )
        if response.status_code == 200:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the demo router does not answer yet")
