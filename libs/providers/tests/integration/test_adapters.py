"""Provider adapters against the fake upstream over real loopback HTTP."""

from __future__ import annotations

import socket
import traceback
from typing import Any

import msgspec
import pytest

from hyperstrate_providers.adapters import (
    ClientPool,
    CompletionStream,
    ProviderClient,
    ProviderConfig,
    ProviderKind,
)
from hyperstrate_providers.errors import ErrorClass, ProviderError
from hyperstrate_providers.fake_upstream import FakeUpstream
from hyperstrate_providers.openai_types import ChatCompletionChunk, decode_chat_request
from hyperstrate_providers.wire import WireObject

SECRET = "sk-test-7f3a9c2e5b1d4f6a8c0e"
TOOL_ARGS = {"location": "San Francisco, CA", "unit": "fahrenheit", "days": [1, 2, 3]}


def request(script: str = "", **fields: Any) -> Any:
    body = {
        "model": "gateway-alias",
        "messages": [{"role": "user", "content": "What's the weather?"}],
        **fields,
    }
    if script:
        body["model"] = f"gateway-alias;{script}"
    return decode_chat_request(msgspec.json.encode(body))


def openai_config(upstream: FakeUpstream, script: str = "", **fields: Any) -> ProviderConfig:
    model = f"fake-gpt;{script}" if script else "fake-gpt"
    return ProviderConfig(
        kind=ProviderKind.OPENAI,
        model=model,
        api_key=SECRET,
        base_url=upstream.openai_base_url,
        **fields,
    )


def config_for(kind: ProviderKind, upstream: FakeUpstream, script: str = "") -> ProviderConfig:
    model = {"anthropic": "fake-claude", "gemini": "fake-gemini"}.get(kind.value, "fake-gpt")
    base_url = upstream.openai_base_url if kind.wire_format == "openai" else upstream.base_url
    return ProviderConfig(
        kind=kind,
        model=f"{model};{script}" if script else model,
        api_key=SECRET,
        base_url=base_url,
    )


async def collect(stream: CompletionStream) -> list[ChatCompletionChunk]:
    async with stream:
        return [chunk.typed async for chunk in stream]


def tool_arguments(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(
        call.function.arguments or ""
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or ()
        if call.function is not None
    )


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)


def assert_secret_free(error: ProviderError) -> None:
    texts = (str(error), repr(error), "".join(traceback.format_exception(error)))
    assert all(SECRET not in text for text in texts)
    assert error.__cause__ is None and error.__context__ is None


# --- OpenAI and OpenAI-compatible -------------------------------------------------------------


async def test_openai_completion_forwards_the_request_and_reads_usage(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    result = await provider_client.complete(
        openai_config(fake_upstream, "tokens=5;cached=2"),
        request(max_tokens=64, prediction={"type": "content", "content": "x"}),
    )

    completion = result.completion.typed
    assert completion.choices[0].message.content == "This is a deterministic reply"
    assert result.usage.output_tokens == 5
    assert result.usage.cached_input_tokens == 2
    assert not result.usage.estimated
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    body: Any = sent.json()
    assert body["model"] == "fake-gpt;tokens=5;cached=2"
    assert body["max_completion_tokens"] == 64 and "max_tokens" not in body
    assert body["prediction"] == {"type": "content", "content": "x"}
    assert result.completion.raw["system_fingerprint"] == "fp_fake"


async def test_openai_stream_keeps_tool_arguments_intact_and_ends_with_usage(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    args = msgspec.json.encode(TOOL_ARGS).decode()
    stream = await provider_client.open_stream(
        openai_config(fake_upstream, f"tool=get_weather;args={args}"), request(stream=True)
    )
    chunks = await collect(stream)

    assert msgspec.json.decode(tool_arguments(chunks)) == TOOL_ARGS
    assert sum(1 for c in chunks for ch in c.choices if ch.delta.tool_calls) > 3
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == [
        "tool_calls"
    ]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert stream.usage is not None and not stream.usage.estimated
    assert fake_upstream.requests[-1].json()["stream_options"] == {"include_usage": True}  # type: ignore[index]


async def test_missing_usage_is_estimated_locally(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    config = openai_config(fake_upstream, "usage=off;tokens=8")

    result = await provider_client.complete(config, request())
    stream = await provider_client.open_stream(config, request(stream=True))
    chunks = await collect(stream)

    assert result.usage.estimated
    assert result.usage.output_tokens > 0 and result.usage.input_tokens > 0
    assert stream.usage == result.usage
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == result.usage.output_tokens


async def test_rate_limit_is_classified_retryable_with_retry_after_before_any_chunk(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    config = openai_config(fake_upstream, "fail=429;retry_after=3")

    with pytest.raises(ProviderError) as complete_error:
        await provider_client.complete(config, request())
    with pytest.raises(ProviderError) as stream_error:
        await provider_client.open_stream(config, request(stream=True))

    for error in (complete_error.value, stream_error.value):
        assert error.error_class is ErrorClass.RATE_LIMITED
        assert error.retryable
        assert error.status_code == 429
        assert error.retry_after == 3.0
        assert "Rate limit" in error.message


async def test_an_unbounded_retry_after_is_capped(
    fake_upstream: FakeUpstream, pool: ClientPool
) -> None:
    config = openai_config(fake_upstream, "fail=429;retry_after=999999999999")

    with pytest.raises(ProviderError) as default_cap:
        await ProviderClient(pool).complete(config, request())
    with pytest.raises(ProviderError) as own_cap:
        await ProviderClient(pool, max_retry_after_seconds=7).open_stream(
            config, request(stream=True)
        )

    assert default_cap.value.retry_after == 60.0
    assert own_cap.value.retry_after == 7.0


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (500, ErrorClass.SERVER_ERROR, True),
        (503, ErrorClass.SERVER_ERROR, True),
        (400, ErrorClass.BAD_REQUEST, False),
        (404, ErrorClass.BAD_REQUEST, False),
        (403, ErrorClass.AUTH, False),
    ],
)
async def test_http_failures_are_classified(
    fake_upstream: FakeUpstream,
    provider_client: ProviderClient,
    status: int,
    error_class: ErrorClass,
    retryable: bool,
) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider_client.complete(openai_config(fake_upstream, f"fail={status}"), request())

    assert raised.value.error_class is error_class
    assert raised.value.retryable is retryable
    assert raised.value.status_code == status


async def test_auth_failure_echoing_the_key_never_leaks_it(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider_client.complete(openai_config(fake_upstream, "fail=401"), request())

    error = raised.value
    assert error.error_class is ErrorClass.AUTH and not error.retryable
    assert "Incorrect API key provided: [REDACTED]" in error.message
    assert_secret_free(error)


async def test_timeout_is_classified_and_retryable(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    config = openai_config(fake_upstream, "timeout", read_timeout=0.2)

    with pytest.raises(ProviderError) as raised:
        await provider_client.complete(config, request())

    assert raised.value.error_class is ErrorClass.TIMEOUT
    assert raised.value.retryable
    assert_secret_free(raised.value)


async def test_refused_connection_is_classified(provider_client: ProviderClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = ProviderConfig(
        kind=ProviderKind.VLLM,
        model="m",
        api_key=SECRET,
        base_url=f"http://127.0.0.1:{closed_port}/v1",
    )

    with pytest.raises(ProviderError) as raised:
        await provider_client.complete(config, request())

    assert raised.value.error_class is ErrorClass.CONNECTION
    assert raised.value.retryable
    assert_secret_free(raised.value)


async def test_broken_openai_stream_raises_after_the_chunks_received(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    stream = await provider_client.open_stream(
        openai_config(fake_upstream, "tokens=10;break=4"), request(stream=True)
    )
    received: list[WireObject[ChatCompletionChunk]] = []

    with pytest.raises(ProviderError) as raised:
        async with stream:
            async for chunk in stream:
                received.append(chunk)

    assert len(received) == 4
    assert raised.value.error_class is ErrorClass.CONNECTION
    assert_secret_free(raised.value)


@pytest.mark.parametrize("kind", [ProviderKind.OPENAI, ProviderKind.ANTHROPIC, ProviderKind.GEMINI])
async def test_stream_ending_without_its_terminal_event_is_detected(
    fake_upstream: FakeUpstream, provider_client: ProviderClient, kind: ProviderKind
) -> None:
    stream = await provider_client.open_stream(
        config_for(kind, fake_upstream, "tokens=10;cut=3"), request(stream=True)
    )

    with pytest.raises(ProviderError) as raised:
        await collect(stream)

    assert raised.value.error_class is ErrorClass.CONNECTION
    assert "stream broken" in raised.value.message


@pytest.mark.parametrize("kind", [ProviderKind.OPENAI, ProviderKind.ANTHROPIC])
@pytest.mark.parametrize("fault", ["break", "cut"])
async def test_a_stream_that_stops_early_has_the_usage_of_what_ran(
    fake_upstream: FakeUpstream, provider_client: ProviderClient, kind: ProviderKind, fault: str
) -> None:
    whole_stream = await provider_client.open_stream(
        config_for(kind, fake_upstream, "tokens=12"), request(stream=True)
    )
    await collect(whole_stream)
    broken = await provider_client.open_stream(
        config_for(kind, fake_upstream, f"tokens=12;{fault}=6"), request(stream=True)
    )
    received: list[ChatCompletionChunk] = []

    with pytest.raises(ProviderError):
        async with broken:
            async for chunk in broken:
                received.append(chunk.typed)

    whole, partial = whole_stream.usage, broken.usage
    assert whole is not None and partial is not None and partial.estimated
    assert 0 < partial.output_tokens < whole.output_tokens
    if kind is ProviderKind.ANTHROPIC:  # its message_start reported the prompt: kept
        assert partial.input_tokens == whole.input_tokens
    else:
        assert partial.input_tokens > 0


async def test_a_stream_closed_early_has_the_usage_of_what_ran(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    stream = await provider_client.open_stream(
        openai_config(fake_upstream, "tokens=40"), request(stream=True)
    )
    async with stream:
        async for chunk in stream:
            if chunk.typed.choices and chunk.typed.choices[0].delta.content:
                break  # the caller stops after the first text

    assert stream.usage is not None and stream.usage.estimated
    assert 0 < stream.usage.output_tokens < 40


async def test_compatible_kind_without_a_key_sends_no_authorization(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    config = ProviderConfig(
        kind=ProviderKind.OLLAMA,
        model="llama3.2",
        base_url=fake_upstream.openai_base_url,
        extra_headers={"x-trace": "t1"},
    )

    result = await provider_client.complete(config, request(max_tokens=3))

    sent = fake_upstream.requests[-1]
    assert "authorization" not in sent.headers
    assert sent.headers["x-trace"] == "t1"
    body: Any = sent.json()
    assert body["max_tokens"] == 3 and body["model"] == "llama3.2"
    assert result.completion.typed.choices[0].finish_reason == "length"


async def test_list_models(fake_upstream: FakeUpstream, provider_client: ProviderClient) -> None:
    openai_models = await provider_client.list_models(openai_config(fake_upstream))
    gemini_models = await provider_client.list_models(
        config_for(ProviderKind.GEMINI, fake_upstream)
    )

    assert openai_models == ["fake-gpt", "fake-claude", "fake-gemini"]
    assert gemini_models == openai_models


# --- Anthropic ---------------------------------------------------------------------------------


async def test_anthropic_completion_is_translated_with_cache_usage(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    config = config_for(ProviderKind.ANTHROPIC, fake_upstream, "tokens=4;cached=6")

    result = await provider_client.complete(
        config,
        request(
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
        ),
    )

    completion = result.completion.typed
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "This is a deterministic"
    assert completion.choices[0].finish_reason == "stop"
    assert result.usage.cached_input_tokens == 6
    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 6
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == SECRET
    assert sent.headers["anthropic-version"] == "2023-06-01"
    body: Any = sent.json()
    assert body["system"] == "Be brief."
    assert body["max_tokens"] == 4096


async def test_anthropic_stream_tool_arguments_arrive_intact_through_translation(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    args = msgspec.json.encode(TOOL_ARGS).decode()
    config = config_for(ProviderKind.ANTHROPIC, fake_upstream, f"tool=get_weather;args={args}")

    stream = await provider_client.open_stream(config, request(stream=True))
    chunks = await collect(stream)

    assert msgspec.json.decode(tool_arguments(chunks)) == TOOL_ARGS
    first_call = next(
        c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls
    )
    assert first_call is not None and first_call[0].function is not None
    assert first_call[0].function.name == "get_weather"
    assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == [
        "tool_calls"
    ]
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert fake_upstream.requests[-1].json()["stream"] is True  # type: ignore[index]


async def test_anthropic_text_stream_and_broken_stream(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    whole = await collect(
        await provider_client.open_stream(
            config_for(ProviderKind.ANTHROPIC, fake_upstream, "tokens=6"), request(stream=True)
        )
    )
    broken = await provider_client.open_stream(
        config_for(ProviderKind.ANTHROPIC, fake_upstream, "tokens=6;break=5"),
        request(stream=True),
    )

    assert text_of(whole) == "This is a deterministic reply from"
    with pytest.raises(ProviderError) as raised:
        await collect(broken)
    assert raised.value.error_class is ErrorClass.CONNECTION


async def test_anthropic_overloaded_is_a_retryable_server_error(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider_client.complete(
            config_for(ProviderKind.ANTHROPIC, fake_upstream, "fail=529"), request()
        )

    assert raised.value.error_class is ErrorClass.SERVER_ERROR and raised.value.retryable
    assert raised.value.message == "The fake upstream was scripted to fail with 529."


async def test_untranslatable_request_fails_as_bad_request_without_a_call(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    with pytest.raises(ProviderError) as raised:
        await provider_client.complete(
            config_for(ProviderKind.ANTHROPIC, fake_upstream), request(n=2)
        )

    assert raised.value.error_class is ErrorClass.BAD_REQUEST
    assert "n > 1" in raised.value.message
    assert fake_upstream.requests == []


# --- Azure OpenAI and Gemini -------------------------------------------------------------------


async def test_azure_uses_the_deployment_url_api_version_and_api_key(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    config = ProviderConfig(
        kind=ProviderKind.AZURE_OPENAI,
        model="gpt-4o",
        deployment="prod-gpt4o;tokens=3",
        api_key=SECRET,
        base_url=fake_upstream.base_url,
        api_version="2025-01-01-preview",
    )

    chunks = await collect(await provider_client.open_stream(config, request(stream=True)))

    sent = fake_upstream.requests[-1]
    assert sent.path == "/openai/deployments/prod-gpt4o;tokens=3/chat/completions"
    assert sent.query == "api-version=2025-01-01-preview"
    assert sent.headers["api-key"] == SECRET
    assert "authorization" not in sent.headers
    assert text_of(chunks) == "This is a"


async def test_gemini_completion_and_stream(
    fake_upstream: FakeUpstream, provider_client: ProviderClient
) -> None:
    args = msgspec.json.encode(TOOL_ARGS).decode()
    tool_config = config_for(ProviderKind.GEMINI, fake_upstream, f"tool=get_weather;args={args}")
    text_config = config_for(ProviderKind.GEMINI, fake_upstream, "tokens=4;reasoning=7")

    called = await provider_client.complete(tool_config, request())
    chunks = await collect(await provider_client.open_stream(text_config, request(stream=True)))

    call = called.completion.typed.choices[0].message.tool_calls
    assert call is not None
    assert msgspec.json.decode(call[0].function.arguments) == TOOL_ARGS
    assert called.completion.typed.choices[0].finish_reason == "tool_calls"
    assert text_of(chunks) == "This is a deterministic"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens_details is not None
    assert chunks[-1].usage.completion_tokens_details.reasoning_tokens == 7
    sent = fake_upstream.requests[-1]
    assert sent.path == "/v1beta/models/fake-gemini;tokens=4;reasoning=7:streamGenerateContent"
    assert sent.query == "alt=sse"
    assert sent.headers["x-goog-api-key"] == SECRET
    assert SECRET not in sent.path + sent.query


# --- the pool ----------------------------------------------------------------------------------


async def test_pool_keeps_one_client_per_origin(fake_upstream: FakeUpstream) -> None:
    async with ClientPool(trust_env=False) as pool:
        client = ProviderClient(pool)
        for kind in (ProviderKind.OPENAI, ProviderKind.ANTHROPIC, ProviderKind.GEMINI):
            await client.complete(config_for(kind, fake_upstream), request())
        assert pool.origins == [fake_upstream.base_url]
        assert pool.client_for(fake_upstream.openai_base_url + "/chat/completions") is (
            pool.client_for(fake_upstream.base_url)
        )
        assert len(fake_upstream.connections) == 1

    assert pool.origins == []
    with pytest.raises(RuntimeError):
        pool.client_for(fake_upstream.base_url)
