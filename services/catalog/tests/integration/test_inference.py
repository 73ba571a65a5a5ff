"""Direct inference with the fake upstream: whole and streamed, API key or session, and the
inference events it publishes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from catalog_support import (
    PROVIDER_KEY,
    Catalog,
    collect_events,
    new_org,
    openai_url,
    publish_api_key,
    publish_virtual_key,
    register,
)

from hyperstrate_kit.bus import connect_nats
from hyperstrate_kit.keys import DIRECT_INFERENCE_RULE
from hyperstrate_kit.testing import wait_for
from hyperstrate_providers.fake_upstream import FakeUpstream

MESSAGES = [{"role": "user", "content": "Say something"}]


def _for(events: list[dict[str, Any]], registration_id: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("registration_id") == registration_id]


async def test_infer_returns_the_completion_and_publishes_completed_with_tokens_and_cost(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(catalog.client, org, openai_url(fake_upstream))
    events, nc = await collect_events(catalog.settings.nats_url, "inference.>")
    try:
        response = await catalog.client.post(
            "/ai/infer",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES, "maxTokens": 50},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["registrationId"] == registration["id"] and result["content"]
        assert result["finishReason"] == "stop"
        usage = result["usage"]
        assert usage["inputTokens"] > 0 and usage["outputTokens"] == 16
        # fake-gpt costs $1 per million input tokens and $2 per million output tokens
        expected = (usage["inputTokens"] * 1 + usage["outputTokens"] * 2) / 1_000_000
        assert abs(result["costUsd"] - expected) < 1e-12
        sent = fake_upstream.requests[-1]
        assert sent.headers["authorization"] == f"Bearer {PROVIDER_KEY}"
        assert msgspec.json.decode(sent.body)["max_tokens"] == 50

        await wait_for(lambda: _for(events, registration["id"]), message="inference.completed")
        (event,) = _for(events, registration["id"])
        assert event["subject"] == "inference.completed" and event["source"] == "catalog"
        assert event["request_id"] == result["id"] and event["org_id"] == org.org_id
        assert event["input_tokens"] == usage["inputTokens"]
        assert event["output_tokens"] == 16 and event["cost_usd"] == result["costUsd"]
        assert event["user_id"] == org.user_id and event["stream"] is False
        assert PROVIDER_KEY not in str(event)
    finally:
        await nc.drain()


async def test_upstream_500_is_a_502_and_publishes_failed_with_the_error_class(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(
        catalog.client, org, openai_url(fake_upstream), model="fake-gpt;fail=500"
    )
    events, nc = await collect_events(catalog.settings.nats_url, "inference.>")
    try:
        response = await catalog.client.post(
            "/ai/infer",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES},
        )
        assert response.status_code == 502, response.text
        assert response.json()["error"].startswith("upstream server_error")
        await wait_for(lambda: _for(events, registration["id"]), message="inference.failed")
        (event,) = _for(events, registration["id"])
        assert event["subject"] == "inference.failed"
        assert event["error_class"] == "server_error" and event["status_code"] == 500
    finally:
        await nc.drain()


async def test_upstream_401_echoing_the_key_never_leaks_it(
    catalog: Catalog, fake_upstream: FakeUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    org = new_org()
    registration = await register(
        catalog.client, org, openai_url(fake_upstream), model="fake-gpt;fail=401"
    )
    events, nc = await collect_events(catalog.settings.nats_url, "inference.>")
    try:
        response = await catalog.client.post(
            "/ai/infer",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES},
        )
        assert response.status_code == 502 and PROVIDER_KEY not in response.text
        await wait_for(lambda: _for(events, registration["id"]), message="inference.failed")
        assert PROVIDER_KEY not in str(_for(events, registration["id"]))
    finally:
        await nc.drain()
    assert "upstream auth" in response.text  # the failure is reported...
    assert caplog.records and PROVIDER_KEY not in caplog.text  # ...and logged, without the key


async def test_streamed_inference_relays_chunks_and_reports_usage(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(
        catalog.client, org, fake_upstream.base_url, catalog_key="fake-claude", name="claude"
    )
    events, nc = await collect_events(catalog.settings.nats_url, "inference.>")
    try:
        response = await catalog.client.post(
            "/ai/infer",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES, "stream": True},
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        frames = [
            line.removeprefix("data: ")
            for line in response.text.split("\n\n")
            if line.startswith("data: ")
        ]
        assert frames[-1] == "[DONE]"
        chunks = [msgspec.json.decode(frame) for frame in frames[:-1]]
        text = "".join(
            choice["delta"].get("content") or "" for chunk in chunks for choice in chunk["choices"]
        )
        assert text
        usage = next(chunk["usage"] for chunk in chunks if chunk.get("usage"))
        assert usage["completion_tokens"] == 16
        # fake-claude is an Anthropic registration: the upstream saw the Messages API
        assert fake_upstream.requests[-1].path == "/v1/messages"
        assert fake_upstream.requests[-1].headers["x-api-key"] == PROVIDER_KEY

        await wait_for(lambda: _for(events, registration["id"]), message="inference.completed")
        (event,) = _for(events, registration["id"])
        assert event["stream"] is True and event["output_tokens"] == 16
        assert event["provider"] == "anthropic" and event["cost_usd"] > 0
        assert event["time_to_first_token_ms"] is not None
    finally:
        await nc.drain()


async def test_direct_inference_takes_an_admins_unscoped_key_and_refuses_the_rest_with_why(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(catalog.client, org, openai_url(fake_upstream))
    nc = await connect_nats(catalog.settings.nats_url, "test-auth")
    js = nc.jetstream()
    try:
        key_id, key = await publish_api_key(js, org)
        _, scoped = await publish_api_key(js, org, router_ids=("rtr_other",))
        _, members = await publish_api_key(js, org, role="member")
        _, virtual = await publish_virtual_key(js, org)
    finally:
        await nc.drain()
    body = {"registrationId": registration["id"], "messages": MESSAGES}

    async def infer(headers: dict[str, str]) -> Any:
        return await catalog.client.post("/ai/infer", headers=headers, json=body)

    async def answered(credential: str) -> Any:
        response = await infer({"Authorization": f"Bearer {credential}"})
        return response if response.status_code != 401 else None  # not yet projected

    assert (await wait_for(lambda: answered(key), message="the key projected")).status_code == 200
    assert (await infer({"x-api-key": key})).status_code == 200
    for credential, reason in (
        (scoped, "this key may only call its routers"),
        (members, "this key acts for a member"),
        (virtual, "a virtual key may only call routers"),
    ):
        refused = await wait_for(lambda c=credential: answered(c), message="the key projected")  # type: ignore[misc]
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"].startswith(reason)
        assert refused.json()["error"].endswith(DIRECT_INFERENCE_RULE)
    member_session = await infer(new_org(role="member").headers)
    assert member_session.status_code == 403 and "member" in member_session.json()["error"]
    wrong = await infer({"Authorization": "Bearer hs_notakey"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid, revoked or expired API key"
    assert (await catalog.client.post("/ai/infer", json=body)).status_code == 401
    # An API key may not reach the admin API.
    admin = await catalog.client.get(
        "/ai/registrations", headers={"Authorization": f"Bearer {key}"}
    )
    assert admin.status_code == 401
    assert key_id


async def test_an_unsafe_base_url_is_refused(catalog: Catalog) -> None:
    org = new_org()
    response = await catalog.client.post(
        "/ai/registrations",
        headers=org.headers,
        json={"name": "x", "catalogKey": "fake-gpt", "baseUrl": "file:///etc/passwd"},
    )
    assert response.status_code == 400 and "baseUrl" in response.json()["fields"]


async def test_a_stream_broken_midway_ends_with_an_error_event_and_is_reported_failed(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    registration = await register(
        catalog.client, org, openai_url(fake_upstream), model="fake-gpt;break=3"
    )
    events, nc = await collect_events(catalog.settings.nats_url, "inference.>")
    try:
        response = await catalog.client.post(
            "/ai/infer",
            headers=org.headers,
            json={"registrationId": registration["id"], "messages": MESSAGES, "stream": True},
        )
        assert response.status_code == 200  # the stream had begun when the upstream broke
        frames = [f for f in response.text.split("\n\n") if f.startswith("data: ")]
        last = msgspec.json.decode(frames[-1].removeprefix("data: "))
        assert last["error"]["type"] == "connection" and "[DONE]" not in response.text
        await wait_for(lambda: _for(events, registration["id"]), message="inference.failed")
        (event,) = _for(events, registration["id"])
        assert event["subject"] == "inference.failed" and event["error_class"] == "connection"
        assert event["stream"] is True
    finally:
        await nc.drain()


async def test_a_client_leaving_a_stream_early_is_billed_for_what_ran(
    catalog: Catalog, fake_upstream: FakeUpstream
) -> None:
    org = new_org()
    # 200 tokens, 20 ms apart: the client leaves long before the end.
    registration = await register(
        catalog.client, org, openai_url(fake_upstream), model="fake-gpt;tokens=200;chunk_latency=20"
    )
    events, nc = await collect_events(catalog.settings.nats_url, "inference.>")
    try:
        body = {"registrationId": registration["id"], "messages": MESSAGES, "stream": True}
        async with catalog.client.stream(
            "POST", "/ai/infer", headers=org.headers, json=body
        ) as response:
            assert response.status_code == 200
            received = 0
            async for line in response.aiter_lines():
                received += line.startswith("data: ")
                if received == 5:
                    break
        await wait_for(lambda: _for(events, registration["id"]), message="inference.completed")
        (event,) = _for(events, registration["id"])
        assert event["subject"] == "inference.completed" and event["stream"] is True
        assert 0 < event["output_tokens"] < 200 and event["cost_usd"] > 0
    finally:
        await nc.drain()
