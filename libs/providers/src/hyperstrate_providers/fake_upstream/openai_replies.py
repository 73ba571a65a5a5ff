"""The fake upstream's OpenAI Chat Completions bodies, streams and errors."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from hyperstrate_providers.fake_upstream.answer import Answer
from hyperstrate_providers.openai_types import ChatCompletionRequest, message_text

__all__ = [
    "completion_body",
    "error_body",
    "last_user_text",
    "stream_frames",
    "usage_block",
]

_encoder = msgspec.json.Encoder()
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_denied",
    404: "not_found_error",
    429: "rate_limit_exceeded",
}


def last_user_text(request: ChatCompletionRequest) -> str:
    """The text of the last user message ("" when there is none)."""
    for message in reversed(request.messages):
        if message.role == "user":
            return message_text(message.content)
    return ""


def usage_block(answer: Answer) -> dict[str, Any]:
    """OpenAI ``usage`` with cached and reasoning details."""
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
    }


def _tool_calls(answer: Answer, response_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_{response_id}",
            "type": "function",
            "function": {"name": answer.tool_name, "arguments": answer.tool_arguments},
        }
    ]


def completion_body(answer: Answer, *, model: str, response_id: str, choices: int = 1) -> bytes:
    """A ``chat.completion`` with ``choices`` identical choices."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if answer.tool_name is not None:
        message["tool_calls"] = _tool_calls(answer, response_id)
    else:
        message["content"] = answer.text
    body: dict[str, Any] = {
        "id": f"chatcmpl-{response_id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": index,
                "message": message,
                "finish_reason": answer.finish_reason,
                "logprobs": None,
            }
            for index in range(choices)
        ],
        "system_fingerprint": "fp_fake",
    }
    if answer.report_usage:
        body["usage"] = usage_block(answer)
    return _encoder.encode(body)


def stream_frames(
    answer: Answer, *, model: str, response_id: str, include_usage: bool
) -> list[bytes]:
    """SSE frames: role, content or tool-call fragments, finish, optional usage, ``[DONE]``."""
    created = int(time.time())
    chunk_id = f"chatcmpl-{response_id}"

    def frame(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        chunk = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        return b"data: " + _encoder.encode(chunk) + b"\n\n"

    frames = [frame({"role": "assistant", "content": ""})]
    frames.extend(frame({"content": piece}) for piece in answer.text_pieces)
    if answer.tool_name is not None:
        head = {
            "index": 0,
            "id": f"call_{response_id}",
            "type": "function",
            "function": {"name": answer.tool_name, "arguments": ""},
        }
        frames.append(frame({"tool_calls": [head]}))
        frames.extend(
            frame({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            for piece in answer.tool_argument_pieces
        )
    frames.append(frame({}, answer.finish_reason))
    if include_usage and answer.report_usage:
        usage_chunk = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage_block(answer),
        }
        frames.append(b"data: " + _encoder.encode(usage_chunk) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    return frames


def error_body(status: int, message: str) -> bytes:
    """OpenAI's error shape."""
    error_type = _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request")
    return _encoder.encode(
        {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    )
