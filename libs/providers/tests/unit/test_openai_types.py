"""OpenAI Chat Completions wire types decode the documented request and response shapes."""

from __future__ import annotations

import msgspec

from hyperstrate_providers import openai_types as openai

FULL_REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "Be exact."},
        {
            "role": "user",
            "name": "ana",
            "content": [
                {"type": "text", "text": "Describe these."},
                {"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "high"}},
                {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
                {"type": "file", "file": {"file_id": "file-1"}},
                {
                    "type": "file",
                    "file": {"file_data": "data:application/pdf;base64,JV==", "filename": "a.pdf"},
                },
            ],
        },
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": 1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
    ],
    "tools": [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look up",
                "parameters": {"type": "object"},
                "strict": True,
            },
        }
    ],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "parallel_tool_calls": False,
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    },
    "stream": True,
    "stream_options": {"include_usage": True},
    "n": 2,
    "seed": 11,
    "logprobs": True,
    "top_logprobs": 3,
    "user": "u-1",
    "metadata": {"team": "search"},
    "max_tokens": 100,
    "max_completion_tokens": 200,
    "temperature": 0.5,
    "top_p": 0.8,
    "stop": ["\n\n", "END"],
}


def test_full_request_decodes_into_typed_fields() -> None:
    request = msgspec.convert(FULL_REQUEST, openai.ChatCompletionRequest)

    user = request.messages[1]
    assert isinstance(user.content, list)
    assert [type(part) for part in user.content] == [
        openai.TextPart,
        openai.ImageUrlPart,
        openai.InputAudioPart,
        openai.FilePart,
        openai.FilePart,
    ]
    assert user.name == "ana"
    assert request.messages[2].tool_calls == [
        openai.ToolCall(
            id="call_1",
            type="function",
            function=openai.FunctionCall(name="lookup", arguments='{"q": 1}'),
        )
    ]
    assert request.tool_choice == openai.ToolChoiceFunction(
        type="function", function=openai.ToolChoiceFunctionName(name="lookup")
    )
    assert isinstance(request.response_format, openai.ResponseFormatJsonSchema)
    assert request.response_format.json_schema.schema == {"type": "object"}
    assert request.wants_usage_chunk
    assert request.output_token_limit == 200
    assert request.stop_sequences == ["\n\n", "END"]
    assert (request.n, request.seed, request.logprobs, request.top_logprobs) == (2, 11, True, 3)
    assert (request.user, request.metadata) == ("u-1", {"team": "search"})
    assert request.parallel_tool_calls is False


def test_full_request_reencodes_to_the_same_json() -> None:
    request = msgspec.convert(FULL_REQUEST, openai.ChatCompletionRequest)

    assert msgspec.json.decode(msgspec.json.encode(request)) == FULL_REQUEST


def test_string_tool_choice_and_stop_and_legacy_max_tokens() -> None:
    request = msgspec.convert(
        {"model": "m", "messages": [], "tool_choice": "required", "stop": "END", "max_tokens": 7},
        openai.ChatCompletionRequest,
    )

    assert request.tool_choice == "required"
    assert request.stop_sequences == ["END"]
    assert request.output_token_limit == 7
    assert not request.wants_usage_chunk


def test_completion_with_usage_details_decodes() -> None:
    completion = msgspec.json.decode(
        b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
        b'"message":{"role":"assistant","content":"hi","refusal":null},"finish_reason":"stop",'
        b'"logprobs":{"content":[{"token":"hi","logprob":-0.1,"bytes":[104,105],'
        b'"top_logprobs":[{"token":"hi","logprob":-0.1,"bytes":null}]}],"refusal":null}}],'
        b'"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,'
        b'"prompt_tokens_details":{"cached_tokens":4},'
        b'"completion_tokens_details":{"reasoning_tokens":2}}}',
        type=openai.ChatCompletion,
    )

    assert completion.usage is not None
    assert completion.usage.prompt_tokens_details == openai.PromptTokensDetails(cached_tokens=4)
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 2
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert logprobs.content[0].bytes == [104, 105]


def test_chunks_always_write_object_and_finish_reason() -> None:
    chunk = openai.ChatCompletionChunk(
        id="c",
        created=1,
        model="m",
        choices=[openai.ChunkChoice(index=0, delta=openai.Delta(content="x"))],
    )

    encoded = msgspec.json.decode(msgspec.json.encode(chunk))

    assert encoded["object"] == "chat.completion.chunk"
    assert encoded["choices"] == [
        {"index": 0, "delta": {"content": "x"}, "finish_reason": None, "logprobs": None}
    ]


def test_request_tools_always_write_their_type() -> None:
    tool = openai.Tool(type="function", function=openai.FunctionDefinition(name="f"))

    assert msgspec.json.decode(msgspec.json.encode(tool)) == {
        "type": "function",
        "function": {"name": "f"},
    }


def test_message_text_joins_text_parts_only() -> None:
    content: list[openai.ContentPart] = [
        openai.TextPart(text="a"),
        openai.ImageUrlPart(image_url=openai.ImageUrl(url="u")),
        openai.TextPart(text="b"),
    ]

    assert openai.message_text(content) == "ab"
    assert openai.message_text("plain") == "plain"
    assert openai.message_text(None) == ""
