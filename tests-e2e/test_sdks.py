"""The official OpenAI and Anthropic SDKs, unmodified, against the running stack (`just up`):
chat, streaming, tool calls, structured output, usage, auth errors, failover, budgets, and a
stream cut by the client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import anthropic
import httpx
import openai
import pytest
import pytest_asyncio
from stack_support import Demo, running_demo

from hyperstrate_kit.testing import wait_for

pytestmark = pytest.mark.e2e

WEATHER_ARGS = {"city": "Paris", "unit": "celsius", "note": "a; b, c"}
STRUCTURED = {"answer": 42, "items": ["a", "b"]}


@pytest_asyncio.fixture(scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    async with running_demo(tmp_path_factory.mktemp("sdk")) as started:
        yield started


async def test_openai_chat_and_streaming_with_usage(demo: Demo) -> None:
    client = demo.openai()
    answer = await client.chat.completions.create(
        model="demo", messages=[{"role": "user", "content": "Hello!"}]
    )
    assert answer.choices[0].message.content and answer.usage and answer.usage.total_tokens > 0
    stream = await client.chat.completions.create(
        model="demo",
        stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Stream, please."}],
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
        usage = chunk.usage or usage
    assert text and usage is not None and usage.completion_tokens > 0


async def test_openai_tool_calls_whole_and_streamed(demo: Demo) -> None:
    await demo.router(
        "tools", [f"fake-gpt;tool=get_weather;args={quote(json.dumps(WEATHER_ARGS))}"]
    )
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    client = demo.openai()
    answer = await client.chat.completions.create(
        model="tools", tools=tools, messages=[{"role": "user", "content": "Weather in Paris?"}]
    )  # type: ignore[arg-type]
    call = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (
        call.function.name == "get_weather" and json.loads(call.function.arguments) == WEATHER_ARGS
    )
    stream = await client.chat.completions.create(
        model="tools", tools=tools, stream=True, messages=[{"role": "user", "content": "Again?"}]
    )  # type: ignore[arg-type]
    arguments = ""
    async for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            arguments += delta.function.arguments or ""  # type: ignore[union-attr]
    assert json.loads(arguments) == WEATHER_ARGS


async def test_openai_structured_output(demo: Demo) -> None:
    await demo.router("structured", [f"fake-gpt;json={quote(json.dumps(STRUCTURED))}"])
    answer = await demo.openai().chat.completions.create(
        model="structured",
        messages=[{"role": "user", "content": "Give me JSON"}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "answer",
                "schema": {
                    "type": "object",
                    "properties": {"answer": {"type": "integer"}},
                    "required": ["answer"],
                },
            },
        },
    )
    assert json.loads(answer.choices[0].message.content or "") == STRUCTURED


async def test_anthropic_sdk_messages_and_stream(demo: Demo) -> None:
    client = anthropic.AsyncAnthropic(base_url=demo.gateway, api_key=demo.key, max_retries=0)
    message = await client.messages.create(
        model="demo",
        max_tokens=64,
        messages=[{"role": "user", "content": "Hello, Claude-shaped world"}],
    )
    assert message.content[0].type == "text" and message.content[0].text  # type: ignore[union-attr]
    assert message.usage.output_tokens > 0
    text = ""
    async with client.messages.stream(
        model="demo", max_tokens=64, messages=[{"role": "user", "content": "Stream it"}]
    ) as stream:
        async for piece in stream.text_stream:
            text += piece
    assert text


async def test_auth_errors_rate_limit_and_unknown_router(demo: Demo) -> None:
    with pytest.raises(openai.NotFoundError):
        await demo.openai().chat.completions.create(
            model="no-such-router", messages=[{"role": "user", "content": "x"}]
        )
    created = await demo.admin_call("POST", "/auth/api-keys", {"name": "to-revoke"})
    await demo.until_answering("demo", created["key"])
    await demo.admin_call("DELETE", f"/auth/api-keys/{created['apiKey']['id']}")

    async def refused() -> bool:
        try:
            await demo.openai(created["key"]).chat.completions.create(
                model="demo", messages=[{"role": "user", "content": "x"}]
            )
        except openai.AuthenticationError:
            return True
        return False

    await wait_for(refused, timeout=1.0, message="the revoked key refused")

    slow = await demo.admin_call("POST", "/auth/virtual-keys", {"name": "slow", "rateLimitRps": 1})
    await demo.until_answering("demo", slow["key"])
    with pytest.raises(openai.RateLimitError) as limited:
        for _ in range(3):
            await demo.openai(slow["key"]).chat.completions.create(
                model="demo", messages=[{"role": "user", "content": "x"}]
            )
    assert limited.value.response.headers["retry-after"]


async def test_failover_when_the_first_target_answers_500(demo: Demo) -> None:
    await demo.router(
        "failover",
        ["fake-gpt;fail=500", "fake-gpt"],
        strategy="failover",
        features={"fallback": {}, "retry": {"maxAttempts": 1}},
    )
    answer = await demo.openai().chat.completions.create(
        model="failover", messages=[{"role": "user", "content": "Are you there?"}]
    )
    assert answer.choices[0].message.content


async def test_64_concurrent_requests_on_a_capped_virtual_key(demo: Demo) -> None:
    capped = await demo.admin_call(
        "POST", "/auth/virtual-keys", {"name": "capped", "maxRequests": 10}
    )
    client = demo.openai(capped["key"])

    async def one() -> int:
        try:
            await client.chat.completions.create(
                model="demo", messages=[{"role": "user", "content": "x"}]
            )
            return 200
        except openai.APIStatusError as error:
            return error.status_code

    async def known() -> bool:  # spends one of the 10 once the key has reached the gateway
        return await one() == 200

    await wait_for(known, timeout=10, message="the capped key known")
    statuses = await asyncio.gather(*(one() for _ in range(64)))
    assert statuses.count(200) == 9 and statuses.count(429) == 55


async def test_a_stream_cut_by_the_client_stops_upstream_and_is_billed(demo: Demo) -> None:
    router_id = await demo.router("slow-stream", ["fake-gpt;tokens=400;chunk_latency=10"])
    async with (
        httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            headers={"authorization": f"Bearer {demo.key}"},
            json={
                "model": "slow-stream",
                "stream": True,
                "messages": [{"role": "user", "content": "long"}],
            },
        ) as response,
    ):
        received = 0
        async for line in response.aiter_lines():
            received += line.startswith("data: ")
            if received >= 5:
                break  # the client hangs up

    async def billed_log() -> dict[str, Any] | None:
        logs = await demo.admin_call("GET", f"/observability/logs?routerId={router_id}")
        cut = [log for log in logs["items"] if log["statusCode"] == 499]
        return cut[0] if cut else None

    log = await wait_for(billed_log, timeout=15, message="the cut stream's log")
    # Billed for what ran: some output, far from the 400 tokens a finished stream reports.
    assert 0 < log["outputTokens"] < 400 and log["costUsd"] >= 0


async def test_requests_show_in_observability_logs_and_usage_within_a_second(demo: Demo) -> None:
    router_id = await demo.router("observed", ["fake-gpt"])
    client = demo.openai()
    for _ in range(3):
        await client.chat.completions.create(
            model="observed", messages=[{"role": "user", "content": "x"}]
        )

    async def logged() -> bool:
        logs = await demo.admin_call("GET", f"/observability/logs?routerId={router_id}")
        return bool(logs["total"] >= 4)  # the warm-up request, then these three

    await wait_for(logged, timeout=1.0, message="the requests in the logs")
    usage = await demo.admin_call("GET", "/observability/usage?groupBy=router")
    assert any(
        row.get("routerId") == router_id or row.get("key") == router_id for row in usage["items"]
    )


async def test_bodies_larger_than_a_nats_message_pass_both_ways(demo: Demo) -> None:
    await demo.router("echo", ["fake-gpt;echo"])
    # One 3 MiB "word": the request, the answer and its single stream frame each exceed the
    # 1 MiB NATS message limit, so all three must travel outside one message.
    text = "x" * (3 * 1024 * 1024)
    messages: Any = [{"role": "user", "content": text}]
    client = demo.openai()
    answer = await client.chat.completions.create(model="echo", messages=messages)
    assert answer.choices[0].message.content == text

    stream = await client.chat.completions.create(model="echo", messages=messages, stream=True)
    pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
    assert "".join(pieces) == text


async def test_store_payloads_shows_the_bodies_in_the_log_detail(demo: Demo) -> None:
    router_id = await demo.router("payloads", ["fake-gpt;echo"])
    await demo.admin_call("PUT", f"/routers/{router_id}/configuration", {"storePayloads": True})

    async def chat(content: str, stream: bool = False) -> tuple[str, str]:
        """The request id and the text the client got."""
        body = {
            "model": "payloads",
            "stream": stream,
            "messages": [{"role": "user", "content": content}],
        }
        async with (
            httpx.AsyncClient(base_url=demo.gateway, timeout=20) as client,
            client.stream(
                "POST",
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {demo.key}"},
                json=body,
            ) as response,
        ):
            assert response.status_code == 200
            raw = (await response.aread()).decode()
        if stream:
            text = "".join(
                choice["delta"].get("content") or ""
                for line in raw.splitlines()
                if line.startswith("data: {")
                for choice in json.loads(line[6:])["choices"]
            )
        else:
            text = json.loads(raw)["choices"][0]["message"]["content"]
        return response.headers["x-request-id"], text

    async def detail_of(request_id: str) -> dict[str, Any] | None:
        logs = await demo.admin_call("GET", f"/observability/logs?routerId={router_id}")
        found = [log for log in logs["items"] if log["requestId"] == request_id]
        if not found:
            return None
        detail: dict[str, Any] = await demo.admin_call(
            "GET", f"/observability/logs/{found[0]['id']}"
        )
        return detail

    async def payload_of(request_id: str) -> dict[str, Any] | None:
        detail = await detail_of(request_id)
        return detail["payload"] if detail else None

    async def stored() -> bool:  # the configuration reaches the router as an event
        request_id, _ = await chat("warm up")
        detail = await wait_for(lambda: detail_of(request_id), timeout=5, message="its log")
        return detail["payload"] is not None

    await wait_for(stored, timeout=20, message="a first stored payload")
    whole_id, whole_text = await chat("a whole answer")
    stream_id, stream_text = await chat("a streamed answer", stream=True)
    whole = await wait_for(lambda: payload_of(whole_id), timeout=10, message="the whole payload")
    streamed = await wait_for(lambda: payload_of(stream_id), timeout=10, message="the stream's")

    request = json.loads(whole["requestBody"])
    assert request["messages"] == [{"role": "user", "content": "a whole answer"}]
    answer = json.loads(whole["responseBody"])
    assert answer["choices"][0]["message"]["content"] == whole_text == "a whole answer"
    assert json.loads(streamed["requestBody"])["stream"] is True
    assembled = json.loads(streamed["responseBody"])  # one body, not the SSE frames
    assert assembled["object"] == "chat.completion"
    assert assembled["choices"][0]["message"]["content"] == stream_text == "a streamed answer"
    assert not (whole["requestTruncated"] or whole["responseTruncated"])
