"""`health_check` through the gateway against the fake upstream: real requests' failures open
a target's breaker (it is skipped, then re-checked by one request `recheckSeconds` later), and
`probe: "chat"` finds a model that fails every chat before any user does."""

from __future__ import annotations

from typing import Any

from inference_support import InferenceStack, inference_stack

from hyperstrate_kit.testing import Infrastructure, wait_for
from hyperstrate_router.application.inference.state import Target
from hyperstrate_router.domain.features import parse_feature_config

FAILING = "fake-gpt;fail=500"


def _calls(stack: InferenceStack, model: str, probes: bool = False) -> list[dict[str, Any]]:
    """Chat requests the upstream got for `model`: users' (or, with `probes`, the probes')."""
    assert stack.upstream is not None
    bodies = [
        request.json()
        for request in stack.upstream.requests
        if request.path.endswith("/chat/completions")
    ]
    return [
        body
        for body in bodies
        if isinstance(body, dict)
        and body.get("model") == model
        and (body.get("max_completion_tokens") == 1) == probes  # what OpenAI calls max_tokens
    ]


async def _ask(stack: InferenceStack, key: str, router: str) -> int:
    async with stack.client(key) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": router, "messages": [{"role": "user", "content": "hello"}]},
        )
        return response.status_code


async def test_failures_open_the_target_and_one_request_rechecks_it(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        failing, healthy = stack.register(FAILING), stack.register()
        health = {"failureThreshold": 2, "recheckSeconds": 1}
        await stack.router(
            "breaker",
            [failing, healthy],
            strategy="failover",
            features={"health_check": health, "fallback": {}},
        )
        key = await stack.api_key()
        await wait_for(lambda: _ask(stack, key, "breaker"), message="the router to answer")
        assert await _ask(stack, key, "breaker") == 200  # via the fallback, twice
        assert len(_calls(stack, FAILING)) == 2  # the threshold: the breaker is open
        for _ in range(5):
            assert await _ask(stack, key, "breaker") == 200
        assert len(_calls(stack, FAILING)) == 2  # skipped: no user waits on it any more

        async def rechecked() -> bool:
            assert await _ask(stack, key, "breaker") == 200
            return len(_calls(stack, FAILING)) == 3

        await wait_for(rechecked, timeout=5, interval=0.1, message="the half-open check")
        assert await _ask(stack, key, "breaker") == 200
        assert len(_calls(stack, FAILING)) == 3  # the check failed: open again
        assert _calls(stack, FAILING, probes=True) == []  # `probe: models`: no chat probes


async def test_a_chat_probe_opens_a_target_that_fails_every_chat(
    infrastructure: Infrastructure,
) -> None:
    async with inference_stack(infrastructure) as stack:
        failing, healthy = stack.register(FAILING), stack.register()
        health = {"probe": "chat", "failureThreshold": 1, "recheckSeconds": 60}
        router_id = await stack.router(
            "probed", [failing, healthy], strategy="failover", features={"health_check": health}
        )
        [pipeline] = stack.pipelines()
        target = Target(id=f"tgt_0_{failing}", registration_id=failing)
        config: Any = parse_feature_config("health_check", health)
        await wait_for(
            lambda: not pipeline.inference.health.available(router_id, target, config),
            message="the chat probe to open the failing target",
        )
        [probe] = _calls(stack, FAILING, probes=True)
        assert probe["max_completion_tokens"] == 1 and probe["messages"]
        assert _calls(stack, "fake-gpt", probes=True)  # the healthy one is probed too
        key = await stack.api_key()
        # No fallback is configured: a user request sent to the failing target would fail.
        await wait_for(lambda: _ask(stack, key, "probed"), message="the router to answer")
        assert await _ask(stack, key, "probed") == 200
        assert _calls(stack, FAILING) == []  # no user request ever reached it
