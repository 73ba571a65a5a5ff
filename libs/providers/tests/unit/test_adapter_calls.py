"""Adapter call building and stream decoding, without I/O."""

from __future__ import annotations

import msgspec
import pytest

from hyperstrate_providers.adapters import (
    DEFAULT_BASE_URLS,
    ProviderConfig,
    ProviderKind,
    adapter_for,
    stream_error_class,
)
from hyperstrate_providers.adapters.openai import OpenAIChunkDecoder
from hyperstrate_providers.errors import ErrorClass, IncompleteStreamError, UpstreamStreamError
from hyperstrate_providers.openai_types import decode_chat_request
from hyperstrate_providers.sse import SseEvent

REQUEST = decode_chat_request(
    b'{"model":"alias","messages":[{"role":"user","content":"hi"}],"stream":true}'
)


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        (ProviderKind.OPENAI, "https://api.openai.com/v1/chat/completions"),
        (ProviderKind.GROQ, "https://api.groq.com/openai/v1/chat/completions"),
        (ProviderKind.TOGETHER, "https://api.together.xyz/v1/chat/completions"),
        (ProviderKind.MISTRAL, "https://api.mistral.ai/v1/chat/completions"),
        (ProviderKind.DEEPSEEK, "https://api.deepseek.com/v1/chat/completions"),
        (ProviderKind.OPENROUTER, "https://openrouter.ai/api/v1/chat/completions"),
        (ProviderKind.OLLAMA, "http://localhost:11434/v1/chat/completions"),
        (ProviderKind.VLLM, "http://localhost:8000/v1/chat/completions"),
        (ProviderKind.ANTHROPIC, "https://api.anthropic.com/v1/messages"),
        (
            ProviderKind.GEMINI,
            "https://generativelanguage.googleapis.com/v1beta/models/m:streamGenerateContent?alt=sse",
        ),
    ],
)
def test_default_base_urls_give_each_providers_endpoint(kind: ProviderKind, url: str) -> None:
    call = adapter_for(kind).build_call(
        ProviderConfig(kind=kind, model="m", api_key="key-1234"), REQUEST, stream=True
    )

    assert call.method == "POST"
    assert call.url == url
    assert call.headers["accept"] == "text/event-stream"


def test_kinds_without_a_default_base_url_need_one() -> None:
    assert ProviderKind.AZURE_OPENAI not in DEFAULT_BASE_URLS
    config = ProviderConfig(kind=ProviderKind.OPENAI_COMPATIBLE, model="m")

    with pytest.raises(ValueError, match="needs a base_url"):
        adapter_for(config.kind).build_call(config, REQUEST, stream=False)


def test_non_streaming_calls_drop_stream_fields() -> None:
    config = ProviderConfig(kind=ProviderKind.OPENAI, model="gpt-4o", api_key="key-1234")

    body = msgspec.json.decode(
        adapter_for(config.kind).build_call(config, REQUEST, stream=False).body
    )

    assert "stream" not in body and "stream_options" not in body
    assert body["model"] == "gpt-4o"


def test_openai_decoder_reports_in_stream_errors_and_missing_done() -> None:
    decoder = OpenAIChunkDecoder()

    with pytest.raises(UpstreamStreamError) as raised:
        decoder.feed(SseEvent("", '{"error": {"type": "server_error", "message": "boom"}}'))
    assert raised.value.error_type == "server_error"
    with pytest.raises(IncompleteStreamError):
        decoder.finish()
    decoder.feed(SseEvent("", "[DONE]"))
    assert decoder.finish() == []


@pytest.mark.parametrize(
    ("error_type", "error_class"),
    [
        ("overloaded_error", ErrorClass.SERVER_ERROR),
        ("api_error", ErrorClass.SERVER_ERROR),
        ("rate_limit_error", ErrorClass.RATE_LIMITED),
        ("RESOURCE_EXHAUSTED", ErrorClass.RATE_LIMITED),
        ("authentication_error", ErrorClass.AUTH),
        ("invalid_request_error", ErrorClass.BAD_REQUEST),
        ("DEADLINE_EXCEEDED", ErrorClass.TIMEOUT),
        ("something_new", ErrorClass.SERVER_ERROR),
    ],
)
def test_in_stream_error_types_are_classified(error_type: str, error_class: ErrorClass) -> None:
    assert stream_error_class(error_type) is error_class
