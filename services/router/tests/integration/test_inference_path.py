"""The inference path end to end over real HTTP and real NATS: gateway -> router -> upstream."""

from __future__ import annotations

import asyncio
import json

import msgspec
from inference_support import inference_stack

from hyperstrate_contracts.auth import ApiKeyRevoked
from hyperstrate_kit.security import hash_key
from hyperstrate_kit.testing import Infrastructure, wait_for


async def _ready(stack, key: str, router: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until gateway and router have both seen the new key and router."""

    async def answered() -> bool:
        async with stack.client(key) as client:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": router, "messages": [{"role": "user", "content": "ping"}]},
            )
            return response.status_code == 200

    await wait_for(answered, timeout=10, message="the router to be known")


async def test_chat_completion_through_the_gateway(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        registration = stack.register()
        await stack.router("chat", [registration])
        key = await stack.api_key()
        await _ready(stack, key, "chat")
        async with stack.client(key) as client:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "chat", "messages": [{"role": "user", "content": "hello there"}]},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"]
            assert body["usage"]["prompt_tokens"] > 0
            models = (await client.get("/v1/models")).json()
            assert "chat" in [m["id"] for m in models["data"]]


async def test_streaming_relays_frames_and_ends_with_done(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router("streamer", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, "streamer")
        async with (
            stack.client(key) as client,
            client.stream(
                "POST",
                "/v1/chat/completions",
                json={
                    "model": "streamer",
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "messages": [{"role": "user", "content": "stream please"}],
                },
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
        assert lines[-1] == "data: [DONE]"
        chunks = [json.loads(line[6:]) for line in lines[:-1]]
        assert any(c["choices"] and c["choices"][0]["delta"].get("content") for c in chunks)
        assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_anthropic_messages_route(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router("claude-like", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, "claude-like")
        async with httpx_client(stack.gateway_url, key) as client:
            response = await client.post(
                "/v1/messages",
                json={
                    "model": "claude-like",
                    "max_tokens": 50,
                    "messages": [{"role": "user", "content": "hi"}],
                },
            )
        assert response.status_code == 200, response.text
        assert (
            response.json()["type"] == "message" and response.json()["content"][0]["type"] == "text"
        )


def httpx_client(url: str, key: str):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.AsyncClient(base_url=url, timeout=30, headers={"x-api-key": key})


async def test_auth_errors_and_unknown_router(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router("guarded", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, "guarded")
        async with stack.client("hs_not_a_key") as client:
            bad = await client.post(
                "/v1/chat/completions", json={"model": "guarded", "messages": []}
            )
            assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
        async with stack.client(key) as client:
            missing = await client.post(
                "/v1/chat/completions", json={"model": "nope", "messages": []}
            )
            assert missing.status_code == 404
            await stack.publish(
                ApiKeyRevoked(org_id=stack.org_id, aggregate_id="x", key_hash=hash_key(key))
            )

            async def refused() -> bool:
                response = await client.post(
                    "/v1/chat/completions", json={"model": "guarded", "messages": []}
                )
                return response.status_code == 401

            await wait_for(refused, timeout=1.0, message="the revoked key refused")


async def test_failover_when_the_first_target_fails(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        broken = stack.register(model="fake-gpt;fail=500")
        healthy = stack.register(model="fake-gpt")
        await stack.router(
            "resilient",
            [broken, healthy],
            strategy="failover",
            features={"fallback": {}, "retry": {"maxAttempts": 2, "initialBackoffMs": 1}},
        )
        key = await stack.api_key()
        await _ready(stack, key, "resilient")
        async with stack.client(key) as client:
            response = await client.post(
                "/v1/chat/completions",
                json={"model": "resilient", "messages": [{"role": "user", "content": "x"}]},
            )
        assert response.status_code == 200, response.text


async def test_virtual_key_cap_holds_under_64_concurrent_requests(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router("capped", [stack.register()])
        warm = await stack.api_key()
        await _ready(stack, warm, "capped")
        key = await stack.api_key(max_requests=10)
        async with stack.client(key) as client:
            await wait_for(lambda: _known(client), timeout=5, message="the virtual key")
            results = await asyncio.gather(
                *(
                    client.post(
                        "/v1/chat/completions",
                        json={"model": "capped", "messages": [{"role": "user", "content": "x"}]},
                    )
                    for _ in range(64)
                )
            )
        statuses = [r.status_code for r in results]
        # One request of the 10 went to _known(): exactly 10 succeed in all.
        assert statuses.count(200) == 9 and statuses.count(429) == 55


async def _known(client) -> bool:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "capped", "messages": [{"role": "user", "content": "x"}]},
    )
    return response.status_code == 200


async def test_inference_events_are_published(infrastructure: Infrastructure) -> None:
    async with inference_stack(infrastructure) as stack:
        await stack.router("observed", [stack.register(price_in=1000.0, price_out=2000.0)])
        key = await stack.api_key()
        await _ready(stack, key, "observed")
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        async with stack.client(key) as client:
            response = await client.post(
                "/v1/chat/completions",
                headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"},
                json={"model": "observed", "messages": [{"role": "user", "content": "traced"}]},
            )
            assert response.status_code == 200
        js = stack.nc.jetstream()

        async def completed_for_org() -> bool:
            message = await js.get_last_msg("INFERENCE", "inference.completed")
            event = msgspec.json.decode(message.data)
            return (
                event["org_id"] == stack.org_id
                and event["cost_usd"] > 0
                and event["input_tokens"] > 0
                and event["trace_id"] == trace_id  # the caller's trace, for finding it later
                and event["request_id"] == response.headers["x-request-id"]
            )

        await wait_for(
            completed_for_org, timeout=5, message="an inference.completed event with cost"
        )


async def test_proxy_route_works_as_the_sdks_base_url(infrastructure: Infrastructure) -> None:
    import anthropic
    import openai

    async with inference_stack(infrastructure) as stack:
        router_id = await stack.router("proxied", [stack.register()])
        key = await stack.api_key()
        await _ready(stack, key, "proxied")
        base = f"{stack.gateway_url}/proxy/router/{router_id}"
        chat = await openai.AsyncOpenAI(
            base_url=f"{base}/v1", api_key=key, max_retries=0
        ).chat.completions.create(
            model="anything: the path names the router",
            messages=[{"role": "user", "content": "hi"}],
        )
        assert chat.choices[0].message.content
        message = await anthropic.AsyncAnthropic(
            base_url=base, api_key=key, max_retries=0
        ).messages.create(
            model="ignored", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].type == "text"
        infer = await stack.client(key).post(
            f"/router/{router_id}/infer",
            json={"model": "x", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert infer.status_code == 200 and infer.json()["choices"]
