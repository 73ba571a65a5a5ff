"""Jobs and conversations belong to whoever created them, on the running stack through the
gateway: two API keys of the same organisation do not see each other's jobs or
conversations (404, and lists without them), an admin session sees them all, and a key
scoped to a router may not submit, list or read jobs at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from stack_support import Demo, running_demo

from hyperstrate_kit.keys import DIRECT_INFERENCE_RULE
from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "user", "content": "Summarise the weather"}]


def _bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def _new_key(demo: Demo, body: dict[str, Any]) -> tuple[str, str]:
    """An API key the admin creates: (key id, key)."""
    created = await demo.admin_call("POST", "/auth/api-keys", body)
    return str(created["apiKey"]["id"]), str(created["key"])


async def _ids(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> set[str]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_jobs_and_conversations_are_their_creators_and_the_admins(tmp_path: Path) -> None:
    async with running_demo(tmp_path) as demo:
        registration = await demo.admin_call(
            "POST",
            "/ai/registrations",
            {"name": "owned", "catalogKey": "fake-gpt", "apiKey": "sk-x", "baseUrl": demo.upstream},
        )
        router = await demo.admin_call("POST", "/routers", {"name": "scoped-only"})
        alice_id, alice = await _new_key(demo, {"name": "alice's job runner"})
        _, bob = await _new_key(demo, {"name": "bob's job runner"})
        _, scoped = await _new_key(demo, {"name": "one router", "routerIds": [router["id"]]})
        async with httpx.AsyncClient(base_url=demo.gateway, timeout=30) as client:

            async def known(key: str) -> bool:
                response = await client.get("/ai/jobs", headers=_bearer(key))
                return response.status_code != 401

            for key in (alice, bob, scoped):
                await wait_for(lambda k=key: known(k), timeout=15, message="the key known")  # type: ignore[misc]

            # Alice's job: hers and the admin's to see, not Bob's.
            body = {"registrationId": registration["id"], "messages": MESSAGES}
            submitted = await client.post("/ai/jobs", headers=_bearer(alice), json=body)
            assert submitted.status_code == 202, submitted.text
            job_id = submitted.json()["id"]

            async def completed() -> dict[str, Any] | None:
                shown = await client.get(f"/ai/jobs/{job_id}", headers=_bearer(alice))
                assert shown.status_code == 200, shown.text
                return shown.json() if shown.json()["status"] == "completed" else None

            done = await wait_for(completed, timeout=30, message="alice's job to complete")
            assert done["result"]["content"] and done["ownerId"] == alice_id
            stolen = await client.get(f"/ai/jobs/{job_id}", headers=_bearer(bob))
            assert stolen.status_code == 404 and stolen.json()["error"] == "job not found"
            assert job_id not in await _ids(client, "/ai/jobs", _bearer(bob))
            assert job_id in await _ids(client, "/ai/jobs", demo.admin)
            as_admin = await client.get(f"/ai/jobs/{job_id}", headers=demo.admin)
            assert as_admin.json()["result"]["content"] == done["result"]["content"]

            # The admin's conversation: a key cannot post to it or read it.
            admins = await demo.admin_call(
                "POST",
                "/ai/conversations",
                {"title": "the admin's", "registrationId": registration["id"]},
            )
            posted = await client.post(
                f"/ai/conversations/{admins['id']}/send",
                headers=_bearer(alice),
                json={"content": "planted"},
            )
            assert posted.status_code == 404, posted.text
            assert posted.json()["error"] == "conversation not found"
            read = await client.get(
                f"/ai/conversations/{admins['id']}/messages", headers=_bearer(alice)
            )
            assert read.status_code == 404

            # Alice's own conversation works for her; Bob meets a 404 on it.
            created = await client.post(
                "/ai/conversations",
                headers=_bearer(alice),
                json={"title": "alice's", "registrationId": registration["id"]},
            )
            assert created.status_code == 201, created.text
            alices = created.json()["id"]
            sent = await client.post(
                f"/ai/conversations/{alices}/send", headers=_bearer(alice), json={"content": "Hi"}
            )
            assert sent.status_code == 200, sent.text
            assert sent.json()["reply"]["content"]
            for method, path in (("GET", ""), ("GET", "/messages"), ("DELETE", "")):
                response = await client.request(
                    method, f"/ai/conversations/{alices}{path}", headers=_bearer(bob)
                )
                assert response.status_code == 404, (method, path, response.text)
            assert await _ids(client, "/ai/conversations", _bearer(alice)) == {alices}
            assert await _ids(client, "/ai/conversations", _bearer(bob)) == set()
            assert await _ids(client, "/ai/conversations", demo.admin) >= {admins["id"], alices}
            history = await client.get(f"/ai/conversations/{alices}/messages", headers=demo.admin)
            assert [m["role"] for m in history.json()["items"]] == ["user", "assistant"]
            untouched = await client.get(
                f"/ai/conversations/{admins['id']}/messages", headers=demo.admin
            )
            assert untouched.json()["total"] == 0  # nothing was planted

            # A key scoped to a router: no job of any registration, no job list, no job.
            for method, path, json in (
                ("POST", "/ai/jobs", body),
                ("GET", "/ai/jobs", None),
                ("GET", f"/ai/jobs/{job_id}", None),
            ):
                refused = await client.request(method, path, headers=_bearer(scoped), json=json)
                assert refused.status_code == 403, (method, path, refused.text)
                assert refused.json()["error"] == (
                    "this key may only call its routers; " + DIRECT_INFERENCE_RULE
                )
