"""Golden transcripts: recorded provider traffic in, the translation out, compared with a
reviewed expected file in tests/golden/ (``UPDATE_GOLDEN=1`` rewrites them for review)."""

from __future__ import annotations

from typing import Any

import msgspec

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.sse import SseParser
from hyperstrate_providers.translate import (
    AnthropicStreamToOpenAI,
    OpenAIStreamToAnthropic,
    anthropic_request_to_openai,
    anthropic_response_to_openai,
    openai_request_to_anthropic,
    openai_response_to_anthropic,
)

CREATED = 1736000000


def sse_data(text: str, piece_size: int = 7) -> list[str]:
    """The ``data`` of every event, parsed from small byte pieces like a real socket."""
    parser = SseParser()
    raw = text.encode()
    events = []
    for start in range(0, len(raw), piece_size):
        events.extend(parser.feed(raw[start : start + piece_size]))
    return [event.data for event in events]


def builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def test_anthropic_stream_to_openai_chunks(golden: Any) -> None:
    translator = AnthropicStreamToOpenAI(created=CREATED)
    chunks = []
    for data in sse_data(golden.read_text("anthropic_stream_thinking_tool_use.input.sse")):
        chunks.extend(translator.feed(anthropic.decode_stream_event(data)))
    chunks.extend(translator.finish())

    golden.check("anthropic_stream_thinking_tool_use.openai.json", builtins(chunks))
    arguments = "".join(
        call.function.arguments or ""
        for chunk in chunks
        for choice in chunk.choices
        for call in choice.delta.tool_calls or ()
        if call.function is not None
    )
    assert msgspec.json.decode(arguments) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 472 + 128


def test_openai_stream_to_anthropic_events(golden: Any) -> None:
    translator = OpenAIStreamToAnthropic()
    events: list[anthropic.StreamEvent] = []
    for data in sse_data(golden.read_text("openai_stream_parallel_tool_calls.input.sse")):
        if data == "[DONE]":
            events.extend(translator.finish())
            break
        events.extend(translator.feed(msgspec.json.decode(data, type=openai.ChatCompletionChunk)))

    golden.check("openai_stream_parallel_tool_calls.anthropic.json", builtins(events))
    inputs: dict[int, str] = {}
    for event in events:
        if isinstance(event, anthropic.ContentBlockDeltaEvent) and isinstance(
            event.delta, anthropic.InputJsonDelta
        ):
            inputs[event.index] = inputs.get(event.index, "") + event.delta.partial_json
    assert [msgspec.json.decode(text) for text in inputs.values()] == [
        {"location": "Paris"},
        {"location": "Tokyo"},
    ]
    assert isinstance(events[-1], anthropic.MessageStopEvent)


def test_anthropic_message_to_openai_completion(golden: Any) -> None:
    response = msgspec.convert(
        golden.read_json("anthropic_message.input.json"), anthropic.MessagesResponse
    )
    completion = anthropic_response_to_openai(response, created=CREATED)
    golden.check("anthropic_message.openai.json", builtins(completion))


def test_openai_completion_to_anthropic_message(golden: Any) -> None:
    completion = msgspec.convert(
        golden.read_json("openai_completion.input.json"), openai.ChatCompletion
    )
    golden.check(
        "openai_completion.anthropic.json", builtins(openai_response_to_anthropic(completion))
    )


def test_openai_request_to_anthropic_request(golden: Any) -> None:
    request = openai.decode_chat_request(golden.read_text("openai_request.input.json"))
    translated = openai_request_to_anthropic(request, model="claude-sonnet-4-5-20250929")
    golden.check("openai_request.anthropic.json", builtins(translated))


def test_anthropic_request_to_openai_request(golden: Any) -> None:
    request = anthropic.decode_messages_request(golden.read_text("anthropic_request.input.json"))
    golden.check(
        "anthropic_request.openai.json", builtins(anthropic_request_to_openai(request.typed))
    )
