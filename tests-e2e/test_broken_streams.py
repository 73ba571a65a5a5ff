"""A broken stream looks broken, to the official SDKs on the running stack (`just up`): an
upstream that closes the connection midway (the fake's `break=K`) or ends the response
cleanly without its terminal event (`cut=K`) makes the OpenAI and the Anthropic SDK raise,
on an upstream of either wire format (so across translation both ways). The request is
logged as failed with what ran billed, and counts against a virtual key's spend; a stream
that breaks before its first byte falls back to the next target."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
import pytest_asyncio
from stack_support import Demo, running_demo

from hyperstrate_kit.testing import wait_for

# The stack starts within the first test's time: up to stack_support's READY_TIMEOUT (240 s)
# on a loaded machine, past the suite's 120 s default.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360)]

FAULTS = ("break", "cut")
UPSTREAMS = ("openai", "anthropic")
# Events the fake sends before its fault: two text deltas on each wire format (Anthropic's
# first three events are message_start, content_block_start and a ping).
EVENTS_BEFORE = {"openai": 3, "anthropic": 5}
MESSAGES: Any = [{"role": "user", "content": "Tell me a story."}]


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with running_demo(tmp_path_factory.mktemp("broken-streams")) as started:
        yield started


_broken_routers: set[str] = set()


async def _broken_router(demo: Demo, upstream: str, fault: str) -> str:
    """The router whose one target breaks its streams so, made by the first test asking."""
    name = f"{upstream}-{fault}"
    if name not in _broken_routers:
        script = f"tokens=12;{fault}={EVENTS_BEFORE[upstream]}"
        await _router(demo, name, [(upstream, script)])
        _broken_routers.add(name)
    return name


async def _router(demo: Demo, name: str, targets: list[tuple[str, str]], **features: Any) -> str:
    """A router over fake-upstream registrations of either wire format (`(upstream,
    script)`, in priority order), once it streams through the gateway."""
    router = await demo.admin_call("POST", "/routers", {"name": name, "strategy": "failover"})
    for priority, (upstream, script) in enumerate(targets):
        catalog_key = "fake-claude" if upstream == "anthropic" else "fake-gpt"
        # Anthropic's adapter adds /v1/messages to its base URL itself.
        base_url = demo.upstream.removesuffix("/v1") if upstream == "anthropic" else demo.upstream
        registration = await demo.admin_call(
            "POST",
            "/ai/registrations",
            {
                "name": f"{name}-{priority}",
                "catalogKey": catalog_key,
                "apiKey": "sk-x",
                "baseUrl": base_url,
                "model": f"{catalog_key};{script}",
            },
        )
        await demo.admin_call(
            "POST",
            f"/routers/{router['id']}/targets",
            {"registrationId": registration["id"], "priority": priority},
        )
    for feature_type, config in features.items():
        await demo.admin_call(
            "POST", f"/routers/{router['id']}/features", {"type": feature_type, "config": config}
        )

    async def streaming() -> bool:  # a whole answer would break too: ask for a stream
        async with (
            httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client,
            client.stream(
                "POST",
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {demo.key}"},
                json={"model": name, "stream": True, "messages": MESSAGES},
            ) as response,
        ):
            await response.aread()
            return response.status_code == 200

    await wait_for(streaming, timeout=30, message=f"router {name} streaming")
    return str(router["id"])


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("upstream", UPSTREAMS)
async def test_the_openai_sdk_raises_on_a_broken_stream(
    demo: Demo, upstream: str, fault: str
) -> None:
    router = await _broken_router(demo, upstream, fault)
    stream = await demo.openai().chat.completions.create(
        model=router, stream=True, messages=MESSAGES
    )
    text = ""
    with pytest.raises(openai.APIError) as raised:
        async for chunk in stream:
            assert not (chunk.choices and chunk.choices[0].finish_reason)  # never "finished"
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""

    assert text  # the stream had started
    assert "broke off midway" in raised.value.message
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == (
        "stream_interrupted"
    )


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("upstream", UPSTREAMS)
async def test_the_anthropic_sdk_raises_on_a_broken_stream(
    demo: Demo, upstream: str, fault: str
) -> None:
    router = await _broken_router(demo, upstream, fault)
    client = anthropic.AsyncAnthropic(base_url=demo.gateway, api_key=demo.key, max_retries=0)
    text = ""
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with client.messages.stream(model=router, max_tokens=64, messages=MESSAGES) as stream:
            async for piece in stream.text_stream:
                text += piece

    assert text
    assert "broke off midway" in str(raised.value)
    body = raised.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "api_error"


async def test_a_broken_stream_is_logged_as_failed_and_billed(demo: Demo) -> None:
    router_id = await _router(demo, "billed-break", [("openai", "tokens=12;break=3")])
    key = await demo.admin_call("POST", "/auth/virtual-keys", {"name": "broken", "maxCostUsd": 5})
    client = demo.openai(key["key"])

    async def known() -> bool:  # listing models spends nothing
        try:
            await client.models.list()
        except openai.AuthenticationError:
            return False
        return True

    await wait_for(known, timeout=10, message="the virtual key at the gateway")
    stream = await client.chat.completions.create(
        model="billed-break", stream=True, messages=MESSAGES
    )
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass

    async def failed_log() -> dict[str, Any] | None:
        logs = await demo.admin_call("GET", f"/observability/logs?routerId={router_id}")
        mine = [log for log in logs["items"] if log["virtualKeyId"] == key["virtualKey"]["id"]]
        return mine[0] if mine else None

    log = await wait_for(failed_log, timeout=15, message="the broken stream's log")
    assert log["statusCode"] == 502 and log["errorClass"] == "stream_interrupted"
    assert "broke off midway" in log["errorMessage"]
    assert 0 < log["outputTokens"] < 12 and log["costUsd"] > 0  # what ran, not the whole

    async def spent() -> dict[str, Any] | None:
        path = f"/observability/usage/virtual-keys/{key['virtualKey']['id']}"
        spend: dict[str, Any] = await demo.admin_call("GET", path)
        return spend if spend["usedRequests"] else None

    spend = await wait_for(spent, timeout=15, message="the virtual key's spend")
    assert spend["usedRequests"] == 1 and spend["usedCostUsd"] == pytest.approx(log["costUsd"])


@pytest.mark.parametrize("fault", ["break=0", "cut=0"])
async def test_a_stream_broken_before_its_first_byte_falls_back(demo: Demo, fault: str) -> None:
    name = f"fallback-{fault.replace('=', '')}"
    await _router(demo, name, [("openai", fault), ("anthropic", "tokens=5")], fallback={})
    stream = await demo.openai().chat.completions.create(model=name, stream=True, messages=MESSAGES)
    finish = [chunk.choices[0].finish_reason async for chunk in stream if chunk.choices]
    assert finish[-1] == "stop"
