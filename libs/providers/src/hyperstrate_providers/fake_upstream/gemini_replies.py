"""The fake upstream's Gemini ``generateContent`` bodies, streams and errors."""

from __future__ import annotations

from typing import Any

import msgspec

from hyperstrate_providers.fake_upstream.answer import Answer
from hyperstrate_providers.gemini_types import GenerateContentRequest
from hyperstrate_providers.translate.common import tool_input_from_arguments
from hyperstrate_providers.usage import MEDIA_PART_TOKENS, MESSAGE_FRAMING_TOKENS, estimate_tokens

__all__ = ["error_body", "last_user_text", "prompt_tokens", "response_body", "stream_frames"]

_encoder = msgspec.json.Encoder()
_FINISH_REASONS = {
    "stop": "STOP",
    "tool_calls": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


def last_user_text(request: GenerateContentRequest) -> str:
    """The text of the last user turn."""
    for content in reversed(request.contents):
        if content.role == "user":
            return "".join(part.text or "" for part in content.parts)
    return ""


def prompt_tokens(request: GenerateContentRequest) -> int:
    """The same approximation as :func:`~hyperstrate_providers.usage.estimate_request_tokens`."""
    contents = list(request.contents)
    if request.system_instruction is not None:
        contents.append(request.system_instruction)
    tokens = 0
    for content in contents:
        tokens += MESSAGE_FRAMING_TOKENS
        for part in content.parts:
            tokens += estimate_tokens(part.text) if part.text else MEDIA_PART_TOKENS
    return tokens


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": answer.completion_tokens - answer.reasoning_tokens,
        "totalTokenCount": answer.prompt_tokens + answer.completion_tokens,
        "cachedContentTokenCount": answer.cached_tokens,
        "thoughtsTokenCount": answer.reasoning_tokens,
    }


def _function_call_part(answer: Answer) -> dict[str, Any]:
    return {
        "functionCall": {
            "name": answer.tool_name,
            "args": tool_input_from_arguments(answer.tool_arguments),
        }
    }


def response_body(answer: Answer, *, model: str, response_id: str) -> bytes:
    """A complete ``GenerateContentResponse``."""
    parts: list[dict[str, Any]] = []
    if answer.text_pieces:
        parts.append({"text": answer.text})
    if answer.tool_name is not None:
        parts.append(_function_call_part(answer))
    body: dict[str, Any] = {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": _FINISH_REASONS[answer.finish_reason],
                "index": 0,
            }
        ],
        "modelVersion": model,
        "responseId": response_id,
    }
    if answer.report_usage:
        body["usageMetadata"] = _usage(answer)
    return _encoder.encode(body)


def stream_frames(answer: Answer, *, model: str, response_id: str) -> list[bytes]:
    """One SSE frame per text token (or the whole function call); the last carries the finish
    reason and usage."""
    events: list[dict[str, Any]] = []
    for piece in answer.text_pieces:
        events.append(
            {"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}]}
        )
    if answer.tool_name is not None:
        events.append(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [_function_call_part(answer)]},
                        "index": 0,
                    }
                ]
            }
        )
    if not events:
        events.append({"candidates": [{"content": {"role": "model", "parts": []}, "index": 0}]})
    events[-1]["candidates"][0]["finishReason"] = _FINISH_REASONS[answer.finish_reason]
    for event in events:
        event["modelVersion"] = model
        event["responseId"] = response_id
        if answer.report_usage:
            event["usageMetadata"] = _usage(answer)
    return [b"data: " + _encoder.encode(event) + b"\r\n\r\n" for event in events]


def error_body(status: int, message: str) -> bytes:
    """Google's error shape."""
    status_name = _STATUSES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return _encoder.encode({"error": {"code": status, "message": message, "status": status_name}})
