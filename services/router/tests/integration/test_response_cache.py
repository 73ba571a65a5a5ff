"""`response_cache` through the gateway: a router keeps at most its `maxEntries` answers."""

from __future__ import annotations

from inference_support import InferenceStack, inference_stack

from hyperstrate_kit.testing import Infrastructure, wait_for


def _upstream_calls(stack: InferenceStack) -> int:
    assert stack.upstream is not None
    return sum(r.path.endswith("/chat/completions") for r in stack.upstream.requests)


async def _ask(stack: InferenceStack, key: str, question: str) -> int:
    async with stack.client(key) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "cached", "messages": [{"role": "user", "content": question}]},
        )
        return response.status_code


async def test_a_router_with_max_entries_2_keeps_only_the_last_2_answers(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        features = {"response_cache": {"maxEntries": 2, "ttlSeconds": 600}}
        await stack.router("cached", [stack.register()], features=features)
        key = await stack.api_key()

        async def answered() -> bool:
            return await _ask(stack, key, "q1") == 200

        await wait_for(answered, message="the router to answer")
        for question in ("q2", "q3"):
            assert await _ask(stack, key, question) == 200
        calls = _upstream_calls(stack)
        for question in ("q2", "q3"):  # the last two: answered from the cache
            assert await _ask(stack, key, question) == 200
        assert _upstream_calls(stack) == calls
        assert await _ask(stack, key, "q1") == 200  # pushed out by q3: asked again
        assert _upstream_calls(stack) == calls + 1
