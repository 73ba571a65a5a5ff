"""Request translation OpenAI <-> Anthropic: mappings, merges and refusals."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import TranslationError
from hyperstrate_providers.translate import (
    DEFAULT_MAX_TOKENS,
    anthropic_request_to_openai,
    openai_request_to_anthropic,
)


def chat(**fields: Any) -> openai.ChatCompletionRequest:
    body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], **fields}
    return msgspec.convert(body, openai.ChatCompletionRequest)


def test_defaults_max_tokens_and_collapses_plain_turns_to_strings() -> None:
    translated = openai_request_to_anthropic(chat())

    assert translated.max_tokens == DEFAULT_MAX_TOKENS
    assert translated.messages == [anthropic.Message(role="user", content="hi")]
    assert translated.system is None
    assert translated.model == "gpt"


def test_system_and_developer_messages_join_into_one_system_string() -> None:
    request = chat(
        messages=[
            {"role": "system", "content": "A."},
            {"role": "user", "content": "hi"},
            {"role": "developer", "content": [{"type": "text", "text": "B."}]},
        ]
    )

    assert openai_request_to_anthropic(request).system == "A.\n\nB."


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, anthropic.ToolChoiceAuto()),
        ("required", None, anthropic.ToolChoiceAny()),
        ("none", None, anthropic.ToolChoiceNone()),
        (
            {"type": "function", "function": {"name": "f"}},
            False,
            anthropic.ToolChoiceTool(name="f", disable_parallel_tool_use=True),
        ),
        (None, False, anthropic.ToolChoiceAuto(disable_parallel_tool_use=True)),
        (None, None, None),
    ],
)
def test_tool_choice_mapping(tool_choice: Any, parallel: bool | None, expected: Any) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    fields: dict[str, Any] = {"tools": tools}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    if parallel is not None:
        fields["parallel_tool_calls"] = parallel

    translated = openai_request_to_anthropic(chat(**fields))

    assert translated.tool_choice == expected
    assert translated.tools == [
        anthropic.Tool(name="f", input_schema={"type": "object", "properties": {}})
    ]


def test_reasoning_effort_enables_thinking_and_drops_temperature() -> None:
    translated = openai_request_to_anthropic(
        chat(reasoning_effort="medium", max_tokens=1000, temperature=0.7)
    )

    assert translated.thinking == anthropic.ThinkingEnabled(budget_tokens=4096)
    assert translated.max_tokens == 1000 + 4096
    assert translated.temperature is None


def test_temperature_is_capped_to_anthropics_range() -> None:
    assert openai_request_to_anthropic(chat(temperature=1.8)).temperature == 1.0
    assert openai_request_to_anthropic(chat(temperature=0.4)).temperature == 0.4


def test_json_object_format_becomes_a_system_instruction() -> None:
    translated = openai_request_to_anthropic(chat(response_format={"type": "json_object"}))

    assert translated.system == "Respond with a single JSON object and nothing else."


def test_broken_tool_arguments_are_kept_not_dropped() -> None:
    request = chat(
        messages=[
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{not json"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        ]
    )

    translated = openai_request_to_anthropic(request)

    assistant = translated.messages[1]
    assert isinstance(assistant.content, list)
    assert assistant.content == [
        anthropic.ToolUseBlock(id="c1", name="f", input={"_raw_arguments": "{not json"})
    ]
    back = anthropic_request_to_openai(
        anthropic.MessagesRequest(model="m", max_tokens=1, messages=translated.messages)
    )
    assert back.messages[1].tool_calls is not None
    assert back.messages[1].tool_calls[0].function.arguments == "{not json"


def test_text_file_becomes_a_plain_text_document() -> None:
    request = chat(
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "file",
                        "file": {
                            "file_data": "data:text/plain;base64,aGVsbG8=",
                            "filename": "a.txt",
                        },
                    }
                ],
            }
        ]
    )

    content = openai_request_to_anthropic(request).messages[0].content

    assert content == [
        anthropic.DocumentBlock(
            source=anthropic.PlainTextDocumentSource(data="hello", media_type="text/plain"),
            title="a.txt",
        )
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n": 2}, "n > 1"),
        ({"logprobs": True}, "logprobs"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}
                        ],
                    }
                ]
            },
            "audio",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}
                ]
            },
            "file_id",
        ),
        ({"messages": [{"role": "critic", "content": "x"}]}, "role"),
    ],
)
def test_features_anthropic_cannot_express_raise(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(TranslationError, match=message):
        openai_request_to_anthropic(chat(**fields))


def test_anthropic_tool_results_come_before_the_rest_of_their_turn() -> None:
    request = anthropic.MessagesRequest(
        model="m",
        max_tokens=10,
        messages=[
            anthropic.Message(
                role="user",
                content=[
                    anthropic.TextBlock(text="and also"),
                    anthropic.ToolResultBlock(tool_use_id="t1", content="r1"),
                    anthropic.ToolResultBlock(tool_use_id="t2", content="r2"),
                ],
            )
        ],
    )

    messages = anthropic_request_to_openai(request).messages

    assert [(m.role, m.tool_call_id, m.content) for m in messages] == [
        ("tool", "t1", "r1"),
        ("tool", "t2", "r2"),
        ("user", None, "and also"),
    ]


def test_a_conversation_survives_openai_to_anthropic_to_openai() -> None:
    original = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "assistant", "content": "It is 18C."},
            {"role": "user", "content": "Thanks"},
        ],
        tools=[
            {"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}
        ],
        tool_choice="auto",
        stop=["END"],
        max_tokens=50,
        user="u1",
    )

    round_trip = anthropic_request_to_openai(openai_request_to_anthropic(original))

    assert round_trip.messages == original.messages
    assert round_trip.tools == original.tools
    assert (round_trip.tool_choice, round_trip.stop, round_trip.max_tokens, round_trip.user) == (
        "auto",
        ["END"],
        50,
        "u1",
    )


def test_server_tools_cannot_be_sent_to_openai_models() -> None:
    request = anthropic.MessagesRequest(
        model="m",
        max_tokens=10,
        messages=[anthropic.Message(role="user", content="hi")],
        tools=[anthropic.Tool(name="web_search", type="web_search_20250305")],
    )

    with pytest.raises(TranslationError, match="server tool"):
        anthropic_request_to_openai(request)
