"""OpenAI <-> Gemini translation for the Gemini adapter."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hyperstrate_providers import gemini_types as gemini
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import IncompleteStreamError, TranslationError
from hyperstrate_providers.translate import (
    GeminiStreamToOpenAI,
    gemini_response_to_openai,
    openai_request_to_gemini,
)


def chat(**fields: Any) -> openai.ChatCompletionRequest:
    return msgspec.convert({"model": "gemini", **fields}, openai.ChatCompletionRequest)


def test_request_maps_roles_tools_and_generation_config() -> None:
    request = chat(
        messages=[
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                ],
            },
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 18}'},
            {"role": "tool", "tool_call_id": "c1", "content": "plain text"},
        ],
        tools=[
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "parameters": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {"city": {"type": "string"}},
                    },
                },
            }
        ],
        tool_choice={"type": "function", "function": {"name": "weather"}},
        max_completion_tokens=64,
        temperature=0.2,
        stop="END",
        n=2,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "o", "schema": {"type": "object", "$schema": "x"}},
        },
    )

    translated = openai_request_to_gemini(request)

    encoded = msgspec.to_builtins(translated)
    assert encoded["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert encoded["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Weather here?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
            ],
        },
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "weather", "args": {"city": "Paris"}}}],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "weather", "response": {"temp": 18}}},
                {"functionResponse": {"name": "weather", "response": {"content": "plain text"}}},
            ],
        },
    ]
    assert encoded["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                }
            ]
        }
    ]
    assert encoded["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["weather"]}
    }
    assert encoded["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "responseMimeType": "application/json",
        "responseSchema": {"type": "object"},
    }


def test_tool_message_without_a_matching_call_is_rejected() -> None:
    request = chat(messages=[{"role": "tool", "tool_call_id": "nope", "content": "x"}])

    with pytest.raises(TranslationError, match="answers no earlier"):
        openai_request_to_gemini(request)


def test_response_maps_text_thoughts_calls_and_usage() -> None:
    response = msgspec.json.decode(
        b'{"candidates":[{"content":{"role":"model","parts":[{"text":"hmm","thought":true},'
        b'{"text":"Calling."},{"functionCall":{"name":"weather","args":{"city":"Paris"}}}]},'
        b'"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":20,'
        b'"candidatesTokenCount":8,"totalTokenCount":40,"cachedContentTokenCount":5,'
        b'"thoughtsTokenCount":12},"modelVersion":"gemini-2.5-flash","responseId":"r1"}',
        type=gemini.GenerateContentResponse,
    )

    completion = gemini_response_to_openai(response, model="gemini", created=1)

    message = completion.choices[0].message
    assert (message.content, message.reasoning_content) == ("Calling.", "hmm")
    assert message.tool_calls == [
        openai.ToolCall(
            id="call_r1_0",
            type="function",
            function=openai.FunctionCall(name="weather", arguments='{"city":"Paris"}'),
        )
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.model == "gemini-2.5-flash"
    assert completion.usage == openai.Usage(
        prompt_tokens=20,
        completion_tokens=20,
        total_tokens=40,
        prompt_tokens_details=openai.PromptTokensDetails(cached_tokens=5),
        completion_tokens_details=openai.CompletionTokensDetails(reasoning_tokens=12),
    )


def test_blocked_prompt_gives_an_empty_content_filter_choice() -> None:
    completion = gemini_response_to_openai(
        gemini.GenerateContentResponse(), model="gemini", created=1
    )

    assert completion.choices[0].finish_reason == "content_filter"
    assert completion.choices[0].message.content is None


def test_stream_translates_incrementally_and_ends_with_usage() -> None:
    translator = GeminiStreamToOpenAI(model="gemini", created=1)
    events = [
        b'{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"responseId":"r"}',
        b'{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},'
        b'"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":3,'
        b'"candidatesTokenCount":2,"totalTokenCount":5}}',
    ]
    chunks = []
    for data in events:
        chunks.extend(
            translator.feed(msgspec.json.decode(data, type=gemini.GenerateContentResponse))
        )
    chunks.extend(translator.finish())

    assert [c.choices[0].delta.content for c in chunks if c.choices] == ["", "Hel", "lo", None]
    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage == openai.Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)


def test_stream_without_finish_reason_is_incomplete() -> None:
    translator = GeminiStreamToOpenAI(model="gemini", created=1)
    translator.feed(
        msgspec.json.decode(
            b'{"candidates":[{"content":{"parts":[{"text":"x"}]}}]}',
            type=gemini.GenerateContentResponse,
        )
    )

    with pytest.raises(IncompleteStreamError):
        translator.finish()
