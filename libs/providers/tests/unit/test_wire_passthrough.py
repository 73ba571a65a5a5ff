"""Unknown fields survive decoding and re-encoding: nothing a client sends is silently dropped."""

from __future__ import annotations

import msgspec
import pytest

from hyperstrate_providers.adapters import OpenAIAdapter, ProviderConfig, ProviderKind
from hyperstrate_providers.anthropic_types import MessagesRequest, decode_messages_request
from hyperstrate_providers.openai_types import (
    ChatCompletion,
    ChatMessage,
    StreamOptions,
    decode_chat_request,
)
from hyperstrate_providers.wire import WireDecodeError, WireObject

OPENAI_REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Be brief.", "x_vendor_note": {"keep": True}},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi", "x_part_flag": 1},
                {"type": "image_url", "image_url": {"url": "https://x/y.png", "x_crop": [1, 2]}},
            ],
        },
    ],
    "prediction": {"type": "content", "content": "hello"},
    "modalities": ["text"],
    "web_search_options": {"search_context_size": "low"},
    "temperature": 0.3,
}


def test_openai_request_reencodes_every_field_including_unknown_ones() -> None:
    request = decode_chat_request(msgspec.json.encode(OPENAI_REQUEST))

    assert msgspec.json.decode(request.encode()) == OPENAI_REQUEST
    assert request.typed.temperature == 0.3
    assert request.extra_fields == {
        "prediction": {"type": "content", "content": "hello"},
        "modalities": ["text"],
        "web_search_options": {"search_context_size": "low"},
    }


def test_replace_changes_known_fields_and_keeps_unknown_ones() -> None:
    request = decode_chat_request(msgspec.json.encode(OPENAI_REQUEST))

    changed = request.replace(
        model="gpt-4o-mini",
        stream_options=StreamOptions(include_usage=True),
        temperature=None,
    )

    encoded = msgspec.json.decode(changed.encode())
    assert encoded["model"] == "gpt-4o-mini"
    assert encoded["stream_options"] == {"include_usage": True}
    assert "temperature" not in encoded
    assert encoded["prediction"] == OPENAI_REQUEST["prediction"]
    assert encoded["messages"] == OPENAI_REQUEST["messages"]
    assert changed.typed.model == "gpt-4o-mini"
    assert request.typed.model == "gpt-4o"


def test_replace_with_typed_messages_updates_both_views() -> None:
    request = decode_chat_request(msgspec.json.encode(OPENAI_REQUEST))

    changed = request.replace(messages=[ChatMessage(role="user", content="new")])

    assert changed.raw["messages"] == [{"role": "user", "content": "new"}]
    assert changed.typed.messages[0].content == "new"


def test_openai_adapter_forwards_unknown_fields_with_the_target_model() -> None:
    request = decode_chat_request(msgspec.json.encode(OPENAI_REQUEST))
    config = ProviderConfig(kind=ProviderKind.GROQ, model="llama-3.3-70b", api_key="k")

    call = OpenAIAdapter().build_call(config, request, stream=False)

    body = msgspec.json.decode(call.body)
    assert body == {**OPENAI_REQUEST, "model": "llama-3.3-70b"}


def test_anthropic_request_reencodes_every_field_including_unknown_ones() -> None:
    raw = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi", "x_block_extra": "kept"}],
            }
        ],
        "container": "container_123",
        "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "m"}],
    }

    request = decode_messages_request(msgspec.json.encode(raw))

    assert isinstance(request.typed, MessagesRequest)
    assert msgspec.json.decode(request.encode()) == raw
    assert set(request.extra_fields) == {"container", "mcp_servers"}


def test_response_objects_keep_provider_specific_fields() -> None:
    raw = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "llama",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "stop",
            }
        ],
        "x_groq": {"id": "req_01"},
    }

    completion = WireObject.decode(msgspec.json.encode(raw), ChatCompletion)

    assert msgspec.json.decode(completion.encode()) == raw
    assert completion.typed.choices[0].message.content == "hi"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not json", "invalid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"model": "m", "messages": [{"content": "no role"}]}', "$.messages[0]"),
        (b'{"model": "m", "messages": [], "n": "two"}', "$.n"),
    ],
)
def test_invalid_requests_raise_with_the_offending_path(body: bytes, fragment: str) -> None:
    with pytest.raises(WireDecodeError, match=fragment.replace("$", r"\$").replace("[", r"\[")):
        decode_chat_request(body)


def test_typed_only_objects_encode_without_a_raw_form() -> None:
    message = WireObject(ChatMessage(role="user", content="hi"))

    assert message.encode() == b'{"role":"user","content":"hi"}'
    assert message.raw == {"role": "user", "content": "hi"}
