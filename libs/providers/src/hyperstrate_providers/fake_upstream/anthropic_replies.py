"""The fake upstream's Anthropic Messages bodies, event streams and errors."""

from __future__ import annotations

from typing import Any

import msgspec

from hyperstrate_providers.anthropic_types import MessagesRequest, system_text
from hyperstrate_providers.fake_upstream.answer import Answer
from hyperstrate_providers.translate.common import tool_input_from_arguments
from hyperstrate_providers.usage import MEDIA_PART_TOKENS, MESSAGE_FRAMING_TOKENS, estimate_tokens

__all__ = [
    "error_body",
    "last_user_text",
    "message_body",
    "prompt_tokens",
    "stream_frames",
]

_encoder = msgspec.json.Encoder()
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _block_text(block: Any) -> str:
    text = getattr(block, "text", None)
    return text if isinstance(text, str) else ""


def last_user_text(request: MessagesRequest) -> str:
    """The text of the last user turn."""
    for message in reversed(request.messages):
        if message.role == "user":
            if isinstance(message.content, str):
                return message.content
            return "".join(_block_text(block) for block in message.content)
    return ""


def prompt_tokens(request: MessagesRequest) -> int:
    """The same approximation as :func:`~hyperstrate_providers.usage.estimate_request_tokens`."""
    tokens = estimate_tokens(system_text(request.system))
    for message in request.messages:
        tokens += MESSAGE_FRAMING_TOKENS
        if isinstance(message.content, str):
            tokens += estimate_tokens(message.content)
            continue
        for block in message.content:
            text = _block_text(block)
            tokens += estimate_tokens(text) if text else MEDIA_PART_TOKENS
    return tokens


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "input_tokens": answer.prompt_tokens - answer.cached_tokens,
        "output_tokens": answer.completion_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": answer.cached_tokens,
    }


def _tool_block(answer: Answer, response_id: str) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": f"toolu_{response_id}",
        "name": answer.tool_name,
        "input": tool_input_from_arguments(answer.tool_arguments),
    }


def message_body(answer: Answer, *, model: str, response_id: str) -> bytes:
    """A complete ``message``."""
    content: list[dict[str, Any]] = []
    if answer.text_pieces:
        content.append({"type": "text", "text": answer.text})
    if answer.tool_name is not None:
        content.append(_tool_block(answer, response_id))
    body = {
        "id": f"msg_{response_id}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _STOP_REASONS[answer.finish_reason],
        "stop_sequence": None,
        "usage": _usage(answer) if answer.report_usage else {"input_tokens": 0, "output_tokens": 0},
    }
    return _encoder.encode(body)


def _frame(event: dict[str, Any]) -> bytes:
    name = str(event["type"]).encode()
    return b"event: " + name + b"\ndata: " + _encoder.encode(event) + b"\n\n"


def stream_frames(answer: Answer, *, model: str, response_id: str) -> list[bytes]:
    """The event sequence of a streamed message, as Anthropic sends it."""
    usage = _usage(answer)
    start_usage = {**usage, "output_tokens": 1}
    frames = [
        _frame(
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_{response_id}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            }
        )
    ]
    index = 0
    if answer.text_pieces:
        frames.append(
            _frame(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                }
            )
        )
        frames.append(_frame({"type": "ping"}))
        frames.extend(
            _frame(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": piece},
                }
            )
            for piece in answer.text_pieces
        )
        frames.append(_frame({"type": "content_block_stop", "index": index}))
        index += 1
    if answer.tool_name is not None:
        block = {**_tool_block(answer, response_id), "input": {}}
        frames.append(
            _frame({"type": "content_block_start", "index": index, "content_block": block})
        )
        frames.append(
            _frame(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": ""},
                }
            )
        )
        frames.extend(
            _frame(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
            )
            for piece in answer.tool_argument_pieces
        )
        frames.append(_frame({"type": "content_block_stop", "index": index}))
    frames.append(
        _frame(
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": _STOP_REASONS[answer.finish_reason],
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": usage["output_tokens"]},
            }
        )
    )
    frames.append(_frame({"type": "message_stop"}))
    return frames


def error_body(status: int, message: str) -> bytes:
    """Anthropic's error shape."""
    error_type = _ERROR_TYPES.get(status, "api_error")
    return _encoder.encode({"type": "error", "error": {"type": error_type, "message": message}})
