"""The catalog as a new user meets it on `just up`: register a model on the fake upstream,
infer (whole and streamed), run an async job whose signed callback arrives, and hold a
three-turn conversation -- all through the gateway."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from litestar import Litestar, Request, post
from stack_support import Stack

from hyperstrate_kit.testing import serve_app, wait_for

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def callback_receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    @post("/callback", status_code=200)
    async def callback(request: Request[Any, Any, Any]) -> dict[str, bool]:
        received.append((dict(request.headers), await request.body()))
        return {"ok": True}

    async with serve_app(Litestar([callback])) as url:
        yield f"{url}/callback", received


async def test_register_infer_job_callback_and_conversation(
    stack: Stack, callback_receiver: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
    callback_url, received = callback_receiver
    await stack.start()
    access = json.loads((stack.data_dir / "demo.json").read_text())
    async with httpx.AsyncClient(base_url=stack.url("gateway"), timeout=30) as client:
        login = (
            await client.post(
                "/auth/login",
                json={"email": access["admin_email"], "password": access["admin_password"]},
            )
        ).json()
        admin = {"authorization": f"Bearer {login['accessToken']}"}
        registration = (
            await client.post(
                "/ai/registrations",
                headers=admin,
                json={
                    "name": "mine",
                    "catalogKey": "fake-gpt",
                    "apiKey": "sk-e2e-secret-value",
                    "baseUrl": f"http://127.0.0.1:{stack.base_port + 9}/v1",
                },
            )
        ).json()
        assert "sk-e2e-secret-value" not in json.dumps(registration)

        messages = [{"role": "user", "content": "Hello"}]
        whole = await client.post(
            "/ai/infer",
            headers=admin,
            json={"registrationId": registration["id"], "messages": messages},
        )
        assert whole.status_code == 200, whole.text
        async with client.stream(
            "POST",
            "/ai/infer",
            headers=admin,
            json={"registrationId": registration["id"], "messages": messages, "stream": True},
        ) as streamed:
            frames = [line async for line in streamed.aiter_lines() if line.startswith("data: ")]
        assert frames[-1] == "data: [DONE]" and len(frames) > 2

        job = (
            await client.post(
                "/ai/jobs",
                headers=admin,
                json={
                    "registrationId": registration["id"],
                    "messages": messages,
                    "callbackUrl": callback_url,
                },
            )
        ).json()

        async def completed() -> dict[str, Any] | None:
            shown = (await client.get(f"/ai/jobs/{job['id']}", headers=admin)).json()
            return shown if shown["status"] == "completed" else None

        done = await wait_for(completed, timeout=30, message="the job to complete")
        assert done["result"] is not None
        await wait_for(lambda: received, timeout=30, message="the callback")
        headers, body = received[0]
        timestamp, signature = (
            part.split("=", 1)[1] for part in headers["x-hyperstrate-signature"].split(",")
        )
        expected = hmac.new(
            job["callbackSecret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256
        )
        assert hmac.compare_digest(signature, expected.hexdigest())

        conversation = (
            await client.post(
                "/ai/conversations",
                headers=admin,
                json={"title": "three turns", "registrationId": registration["id"]},
            )
        ).json()
        for turn in ("One", "Two", "Three"):
            sent = await client.post(
                f"/ai/conversations/{conversation['id']}/send",
                headers=admin,
                json={"content": turn},
            )
            assert sent.status_code in (200, 201), sent.text
        history = (
            await client.get(f"/ai/conversations/{conversation['id']}/messages", headers=admin)
        ).json()
        roles = [m["role"] for m in history["items"]]
        assert roles == ["user", "assistant"] * 3
