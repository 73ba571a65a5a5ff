"""Response and stream translation: stop reasons, usage, incremental behaviour, breakage."""

from __future__ import annotations

import msgspec
import pytest

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import IncompleteStreamError, UpstreamStreamError
from hyperstrate_providers.translate import (
    AnthropicStreamToOpenAI,
    OpenAIStreamToAnthropic,
    anthropic_response_to_openai,
    anthropic_stop_to_openai_finish,
    openai_finish_to_anthropic_stop,
    openai_response_to_anthropic,
)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        (None, "stop"),
    ],
)
def test_anthropic_stop_reasons_map_to_openai(stop_reason: str | None, finish_reason: str) -> None:
    assert anthropic_stop_to_openai_finish(stop_reason) == finish_reason


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("function_call", "tool_use"),
    ],
)
def test_openai_finish_reasons_map_to_anthropic(finish_reason: str, stop_reason: str) -> None:
    assert openai_finish_to_anthropic_stop(finish_reason) == stop_reason


def test_a_known_stop_sequence_is_reported_as_such() -> None:
    assert openai_finish_to_anthropic_stop("stop", "END") == "stop_sequence"


def test_anthropic_text_only_response_has_string_content_and_no_tool_calls() -> None:
    response = anthropic.MessagesResponse(
        id="msg_1",
        model="claude",
        content=[anthropic.TextBlock(text="a"), anthropic.TextBlock(text="b")],
        stop_reason="max_tokens",
        usage=anthropic.Usage(input_tokens=3, output_tokens=2),
    )

    completion = anthropic_response_to_openai(response, created=5)

    choice = completion.choices[0]
    assert (choice.message.content, choice.message.tool_calls) == ("ab", None)
    assert choice.finish_reason == "length"
    assert completion.usage == openai.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


def test_openai_refusal_becomes_anthropic_text_with_refusal_stop() -> None:
    completion = openai.ChatCompletion(
        id="c",
        created=1,
        model="gpt",
        choices=[
            openai.Choice(
                index=0,
                message=openai.AssistantMessage(content=None, refusal="I can't help."),
                finish_reason="content_filter",
            )
        ],
    )

    message = openai_response_to_anthropic(completion)

    assert message.content == [anthropic.TextBlock(text="I can't help.")]
    assert message.stop_reason == "refusal"
    assert message.usage == anthropic.Usage(input_tokens=0, output_tokens=0)


def _events(*data: str) -> list[anthropic.StreamEvent]:
    return [anthropic.decode_stream_event(item) for item in data]


MESSAGE_START = (
    '{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
    '"content":[],"model":"claude","usage":{"input_tokens":10,"output_tokens":1}}}'
)


def test_anthropic_stream_without_message_stop_is_incomplete() -> None:
    translator = AnthropicStreamToOpenAI(created=1)
    for event in _events(
        MESSAGE_START,
        '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}',
    ):
        translator.feed(event)

    assert not translator.complete
    with pytest.raises(IncompleteStreamError):
        translator.finish()


def test_anthropic_error_event_raises_with_its_type() -> None:
    translator = AnthropicStreamToOpenAI(created=1)
    translator.feed(anthropic.decode_stream_event(MESSAGE_START))

    with pytest.raises(UpstreamStreamError) as raised:
        translator.feed(
            anthropic.decode_stream_event(
                '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
            )
        )
    assert raised.value.error_type == "overloaded_error"


def test_anthropic_stream_usage_chunk_can_be_left_out() -> None:
    translator = AnthropicStreamToOpenAI(include_usage=False, created=1)
    chunks = []
    for event in _events(
        MESSAGE_START,
        '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":4}}',
        '{"type":"message_stop"}',
    ):
        chunks.extend(translator.feed(event))

    assert [chunk.choices[0].finish_reason for chunk in chunks] == [None, "stop"]
    assert translator.usage is not None
    assert (translator.usage.input_tokens, translator.usage.output_tokens) == (10, 4)


def _chunk(data: str) -> openai.ChatCompletionChunk:
    return msgspec.json.decode(data, type=openai.ChatCompletionChunk)


def test_openai_stream_without_finish_reason_is_incomplete() -> None:
    translator = OpenAIStreamToAnthropic()
    translator.feed(
        _chunk('{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"}}]}')
    )

    with pytest.raises(IncompleteStreamError):
        translator.finish()


def test_openai_reasoning_then_text_become_thinking_then_text_blocks() -> None:
    translator = OpenAIStreamToAnthropic(model="alias")
    events: list[anthropic.StreamEvent] = []
    for data in (
        '{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning_content":"think"}}]}',
        '{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"answer"}}]}',
        '{"id":"c","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}',
    ):
        events.extend(translator.feed(_chunk(data)))
    events.extend(translator.finish())

    assert [type(event).__name__ for event in events] == [
        "MessageStartEvent",
        "ContentBlockStartEvent",
        "ContentBlockDeltaEvent",
        "ContentBlockStopEvent",
        "ContentBlockStartEvent",
        "ContentBlockDeltaEvent",
        "ContentBlockStopEvent",
        "MessageDeltaEvent",
        "MessageStopEvent",
    ]
    start = events[0]
    assert isinstance(start, anthropic.MessageStartEvent)
    assert start.message.model == "alias"
    delta = events[-2]
    assert isinstance(delta, anthropic.MessageDeltaEvent)
    assert delta.delta.stop_reason == "max_tokens"
