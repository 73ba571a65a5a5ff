"""The fake upstream over real loopback HTTP, driven by a plain HTTP client."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from hyperstrate_kit.testing import wait_for
from hyperstrate_providers.fake_upstream import FakeUpstream, start_fake_upstream
from hyperstrate_providers.sse import SseParser

CHAT = {"model": "fake-gpt", "messages": [{"role": "user", "content": "Hello there, upstream"}]}


@pytest.fixture
async def http(fake_upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=fake_upstream.base_url, timeout=5.0, trust_env=False
    ) as client:
        yield client


def sse_data(body: bytes) -> list[str]:
    return [event.data for event in SseParser().feed(body)]


async def test_chat_completion_is_deterministic_with_usage(http: httpx.AsyncClient) -> None:
    first = (await http.post("/v1/chat/completions", json=CHAT)).json()
    second = (await http.post("/v1/chat/completions", json=CHAT)).json()

    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"]
    assert first["choices"][0]["message"]["content"].startswith("This is a deterministic reply")
    assert first["choices"][0]["finish_reason"] == "stop"
    assert first["usage"]["completion_tokens"] == 16
    assert first["usage"]["prompt_tokens"] == 4 + 6
    assert first["id"] != second["id"]


async def test_stream_honours_include_usage(http: httpx.AsyncClient) -> None:
    with_usage = await http.post(
        "/v1/chat/completions",
        json={**CHAT, "stream": True, "stream_options": {"include_usage": True}},
        headers={"x-fake-script": "tokens=3"},
    )
    without_usage = await http.post(
        "/v1/chat/completions", json={**CHAT, "stream": True}, headers={"x-fake-script": "tokens=3"}
    )

    assert with_usage.headers["content-type"] == "text/event-stream"
    events = sse_data(with_usage.content)
    assert events[-1] == "[DONE]"
    chunks = [msgspec.json.decode(data) for data in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == (
        "This is a"
    )
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    plain = [msgspec.json.decode(data) for data in sse_data(without_usage.content)[:-1]]
    assert all("usage" not in chunk for chunk in plain)
    assert plain[-1]["choices"][0]["finish_reason"] == "stop"


async def test_script_in_the_model_name_calls_a_tool(http: httpx.AsyncClient) -> None:
    body = {**CHAT, "model": 'fake-gpt;tool=get_weather;args={"city":"Paris"}'}

    reply = (await http.post("/v1/chat/completions", json=body)).json()

    call = reply["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert reply["choices"][0]["finish_reason"] == "tool_calls"
    assert reply["model"] == "fake-gpt"


async def test_echo_json_and_reported_token_details(http: httpx.AsyncClient) -> None:
    echo = await http.post("/v1/chat/completions", json=CHAT, headers={"x-fake-script": "echo"})
    as_json = await http.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"x-fake-script": 'json={"answer": 42};cached=3;reasoning=5'},
    )

    assert echo.json()["choices"][0]["message"]["content"] == "Hello there, upstream"
    reply = as_json.json()
    assert msgspec.json.decode(reply["choices"][0]["message"]["content"]) == {"answer": 42}
    assert reply["usage"]["prompt_tokens_details"] == {"cached_tokens": 3}
    assert reply["usage"]["completion_tokens_details"] == {"reasoning_tokens": 5}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
async def test_scripted_failures_use_the_openai_error_shape(
    http: httpx.AsyncClient, status: int
) -> None:
    response = await http.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"x-fake-script": f"fail={status};retry_after=2", "authorization": "Bearer sk-x1"},
    )

    assert response.status_code == status
    assert isinstance(response.json()["error"]["message"], str)
    if status in (429, 503):
        assert response.headers["retry-after"] == "2"
    if status == 401:
        assert "sk-x1" in response.json()["error"]["message"]


async def test_anthropic_stream_follows_the_documented_event_order(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/messages",
        json={
            "model": "fake-claude",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
        headers={"x-fake-script": "tokens=2"},
    )

    names = [event.event for event in SseParser().feed(response.content)]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]


async def test_anthropic_errors_use_the_anthropic_shape(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/messages",
        json={
            "model": "fake-claude;fail=529",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )

    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"


async def test_invalid_bodies_are_rejected_like_the_real_apis(http: httpx.AsyncClient) -> None:
    openai_reply = await http.post("/v1/chat/completions", json={"messages": []})
    anthropic_reply = await http.post("/v1/messages", json={"model": "m", "messages": []})
    bad_script = await http.post("/v1/chat/completions", json={**CHAT, "model": "m;warp=9"})

    assert openai_reply.status_code == 400
    assert "model" in openai_reply.json()["error"]["message"]
    assert anthropic_reply.status_code == 400
    assert "max_tokens" in anthropic_reply.json()["error"]["message"]
    assert bad_script.status_code == 400
    assert "warp" in bad_script.json()["error"]["message"]


async def test_models_azure_gemini_and_unknown_routes(http: httpx.AsyncClient) -> None:
    models = (await http.get("/v1/models")).json()
    azure = await http.post(
        "/openai/deployments/my-deploy/chat/completions?api-version=2024-10-21",
        json={"model": "my-deploy", "messages": CHAT["messages"]},
    )
    gemini = await http.post(
        "/v1beta/models/fake-gemini:generateContent",
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    gemini_models = (await http.get("/v1beta/models")).json()
    missing = await http.get("/v2/nothing")

    assert [model["id"] for model in models["data"]] == ["fake-gpt", "fake-claude", "fake-gemini"]
    assert azure.json()["model"] == "my-deploy"
    assert gemini.json()["candidates"][0]["finishReason"] == "STOP"
    assert gemini.json()["usageMetadata"]["candidatesTokenCount"] == 16
    assert gemini_models["models"][0] == {"name": "models/fake-gpt"}
    assert missing.status_code == 404


async def test_break_closes_the_stream_midway(http: httpx.AsyncClient) -> None:
    received: list[bytes] = []
    with pytest.raises(httpx.RemoteProtocolError):
        async with http.stream(
            "POST",
            "/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"x-fake-script": "tokens=10;break=3"},
        ) as response:
            async for data in response.aiter_bytes():
                received.append(data)

    assert len(sse_data(b"".join(received))) == 3


async def test_latency_delays_the_answer(http: httpx.AsyncClient) -> None:
    started = time.perf_counter()
    response = await http.post(
        "/v1/chat/completions", json=CHAT, headers={"x-fake-script": "latency=150"}
    )

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.15


async def test_timeout_hangs_until_the_client_gives_up(
    fake_upstream: FakeUpstream, http: httpx.AsyncClient
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        await http.post(
            "/v1/chat/completions", json=CHAT, headers={"x-fake-script": "timeout"}, timeout=0.2
        )

    # The hanging request does not block the server for others.
    assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200


async def test_keep_alive_reuses_one_connection(
    fake_upstream: FakeUpstream, http: httpx.AsyncClient
) -> None:
    for _ in range(5):
        assert (await http.post("/v1/chat/completions", json=CHAT)).status_code == 200

    assert len(fake_upstream.connections) == 1
    assert len(fake_upstream.requests) == 5


async def test_pipelined_requests_are_answered_in_order(fake_upstream: FakeUpstream) -> None:
    def request(script: str) -> bytes:
        body = msgspec.json.encode(CHAT)
        return (
            f"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n"
            f"x-fake-script: {script}\r\n\r\n"
        ).encode() + body

    reader, writer = await asyncio.open_connection("127.0.0.1", fake_upstream.port)
    writer.write(request("latency=50;tokens=1") + request("tokens=2") + request("tokens=3"))
    await writer.drain()
    contents = []
    for _ in range(3):
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        reply: Any = msgspec.json.decode(await reader.readexactly(length))
        contents.append(reply["choices"][0]["message"]["content"])
    writer.close()
    await writer.wait_closed()

    assert contents == ["This", "This is", "This is a"]


async def test_start_fake_upstream_yields_a_working_base_url() -> None:
    async with start_fake_upstream() as base_url, httpx.AsyncClient(trust_env=False) as client:
        response = await client.get(f"{base_url}/health")

    assert base_url.startswith("http://127.0.0.1:")
    assert response.json() == {"status": "ok"}


async def test_closing_the_server_ends_hanging_requests() -> None:
    upstream = FakeUpstream(record_requests=True)
    await upstream.start()
    async with httpx.AsyncClient(base_url=upstream.base_url, trust_env=False) as client:
        hanging = asyncio.create_task(
            client.post("/v1/chat/completions", json=CHAT, headers={"x-fake-script": "timeout"})
        )
        await wait_for(lambda: len(upstream.requests) == 1, timeout=5, message="the request")

        await upstream.close()

        with pytest.raises(httpx.TransportError):
            await asyncio.wait_for(hanging, 5)


async def test_command_line_server_prints_its_url_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hyperstrate_providers.fake_upstream",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        base_url = line.strip().rsplit(" ", 1)[-1]
        async with httpx.AsyncClient(trust_env=False) as client:
            reply = await client.post(f"{base_url}/v1/chat/completions", json=CHAT)
    finally:
        process.terminate()
        return_code = await asyncio.wait_for(process.wait(), 20)

    assert line.startswith("fake upstream listening on http://127.0.0.1:")
    assert reply.json()["choices"][0]["finish_reason"] == "stop"
    assert return_code == 0
