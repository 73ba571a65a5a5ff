"""Anthropic Messages wire types decode the documented request, response and stream shapes."""

from __future__ import annotations

import msgspec
import pytest

from hyperstrate_providers import anthropic_types as anthropic

REQUEST = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "Rules.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read this."},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                },
                {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}},
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JV"},
                    "title": "Spec",
                    "cache_control": {"type": "ephemeral", "ttl": "1h"},
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "plain"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                {"type": "redacted_thinking", "data": "opaque"},
                {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "is_error": False,
                    "content": [{"type": "text", "text": "found"}],
                }
            ],
        },
    ],
    "tools": [
        {
            "name": "search",
            "description": "Search",
            "input_schema": {"type": "object"},
            "cache_control": {"type": "ephemeral"},
        }
    ],
    "tool_choice": {"type": "tool", "name": "search", "disable_parallel_tool_use": True},
    "stop_sequences": ["STOP"],
    "metadata": {"user_id": "u-1"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "temperature": 1.0,
    "top_k": 5,
    "stream": True,
}


def test_request_with_every_block_type_round_trips() -> None:
    request = msgspec.convert(REQUEST, anthropic.MessagesRequest)

    first, second, third = request.messages
    assert isinstance(first.content, list) and isinstance(second.content, list)
    assert [type(block) for block in first.content] == [
        anthropic.TextBlock,
        anthropic.ImageBlock,
        anthropic.ImageBlock,
        anthropic.DocumentBlock,
        anthropic.DocumentBlock,
    ]
    assert [type(block) for block in second.content] == [
        anthropic.ThinkingBlock,
        anthropic.RedactedThinkingBlock,
        anthropic.ToolUseBlock,
    ]
    assert isinstance(third.content, list)
    assert isinstance(third.content[0], anthropic.ToolResultBlock)
    assert request.tool_choice == anthropic.ToolChoiceTool(
        name="search", disable_parallel_tool_use=True
    )
    assert request.thinking == anthropic.ThinkingEnabled(budget_tokens=1024)
    assert anthropic.system_text(request.system) == "Rules."
    assert msgspec.json.decode(msgspec.json.encode(request)) == REQUEST


def test_response_usage_has_cache_fields_and_nulls_are_written() -> None:
    response = msgspec.json.decode(
        b'{"id":"msg_1","type":"message","role":"assistant","model":"claude","content":'
        b'[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,'
        b'"usage":{"input_tokens":10,"output_tokens":3,"cache_creation_input_tokens":5,'
        b'"cache_read_input_tokens":100}}',
        type=anthropic.MessagesResponse,
    )

    assert response.usage == anthropic.Usage(
        input_tokens=10,
        output_tokens=3,
        cache_creation_input_tokens=5,
        cache_read_input_tokens=100,
    )
    encoded = msgspec.json.decode(msgspec.json.encode(response))
    assert encoded["type"] == "message"
    assert encoded["role"] == "assistant"
    assert encoded["stop_sequence"] is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"a"}}',
            anthropic.ContentBlockDeltaEvent(index=0, delta=anthropic.TextDelta(text="a")),
        ),
        (
            '{"type":"content_block_delta","index":1,'
            '"delta":{"type":"input_json_delta","partial_json":"{\\"a"}}',
            anthropic.ContentBlockDeltaEvent(
                index=1, delta=anthropic.InputJsonDelta(partial_json='{"a')
            ),
        ),
        (
            '{"type":"content_block_delta","index":0,'
            '"delta":{"type":"thinking_delta","thinking":"t"}}',
            anthropic.ContentBlockDeltaEvent(index=0, delta=anthropic.ThinkingDelta(thinking="t")),
        ),
        (
            '{"type":"content_block_delta","index":0,'
            '"delta":{"type":"signature_delta","signature":"s"}}',
            anthropic.ContentBlockDeltaEvent(
                index=0, delta=anthropic.SignatureDelta(signature="s")
            ),
        ),
        (
            '{"type":"content_block_start","index":2,"content_block":'
            '{"type":"tool_use","id":"t","name":"n","input":{}}}',
            anthropic.ContentBlockStartEvent(
                index=2, content_block=anthropic.ToolUseBlock(id="t", name="n", input={})
            ),
        ),
        ('{"type":"content_block_stop","index":2}', anthropic.ContentBlockStopEvent(index=2)),
        (
            '{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},'
            '"usage":{"output_tokens":9}}',
            anthropic.MessageDeltaEvent(
                delta=anthropic.MessageDelta(stop_reason="max_tokens"),
                usage=anthropic.MessageDeltaUsage(output_tokens=9),
            ),
        ),
        ('{"type":"message_stop"}', anthropic.MessageStopEvent()),
        ('{"type":"ping"}', anthropic.PingEvent()),
        (
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            anthropic.ErrorEvent(
                error=anthropic.ErrorBody(type="overloaded_error", message="Overloaded")
            ),
        ),
    ],
)
def test_stream_events_decode_and_encode_as_sse(data: str, expected: anthropic.StreamEvent) -> None:
    event = anthropic.decode_stream_event(data)

    assert event == expected
    frame = anthropic.encode_stream_event(event)
    name = msgspec.json.decode(data)["type"]
    assert frame.startswith(f"event: {name}\ndata: ".encode())
    assert frame.endswith(b"\n\n")
    assert anthropic.decode_stream_event(frame.split(b"data: ", 1)[1].strip()) == expected


def test_message_start_carries_the_input_usage() -> None:
    event = anthropic.decode_stream_event(
        '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
        '"content":[],"model":"claude","stop_reason":null,"stop_sequence":null,'
        '"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":7}}}'
    )

    assert isinstance(event, anthropic.MessageStartEvent)
    assert event.message.usage.input_tokens == 25
    assert event.message.usage.cache_read_input_tokens == 7
