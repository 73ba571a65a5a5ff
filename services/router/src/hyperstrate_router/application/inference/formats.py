"""Bodies and SSE frames in the API the client speaks (OpenAI or Anthropic), errors included."""

from __future__ import annotations

from typing import Literal

import msgspec

from hyperstrate_providers import WireObject, decode_json_object
from hyperstrate_providers.anthropic_types import MessagesRequest, encode_stream_event
from hyperstrate_providers.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from hyperstrate_providers.translate import (
    anthropic_request_to_openai,
    openai_response_to_anthropic,
)

__all__ = [
    "Api",
    "api_error",
    "canonical_request",
    "completion_body",
    "openai_frame",
    "stream_error_frame",
]

Api = Literal["openai", "anthropic"]
_encoder = msgspec.json.Encoder()

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def api_error(api: Api, status: int, message: str, code: str | None = None) -> bytes:
    """An error body as the client's SDK expects it."""
    if api == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return _encoder.encode({"type": "error", "error": {"type": kind, "message": message}})
    kind = _OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return _encoder.encode(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}
    )


def stream_error_frame(api: Api, status: int, message: str, code: str | None = None) -> bytes:
    """The SSE frame that ends a stream with an error, as the client's SDK reads one:
    OpenAI's `data: {"error": ...}`, Anthropic's `event: error`."""
    body = api_error(api, status, message, code)
    if api == "anthropic":
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"


def canonical_request(api: Api, body: bytes) -> WireObject[ChatCompletionRequest]:
    """The request as the pipeline works on it (OpenAI Chat Completions)."""
    raw = decode_json_object(body)
    # The router is already chosen (by the path, or by `model` at the gateway), and the
    # target's model replaces this one: a request may leave `model` out.
    raw.setdefault("model", "")
    if api == "openai":
        return WireObject.from_raw(raw, ChatCompletionRequest)
    anthropic = WireObject.from_raw(raw, MessagesRequest)
    translated = anthropic_request_to_openai(anthropic.typed)
    return WireObject(translated)


def completion_body(api: Api, completion: WireObject[ChatCompletion]) -> bytes:
    """A whole answer in the client's API."""
    if api == "openai":
        return completion.encode()
    return _encoder.encode(openai_response_to_anthropic(completion.typed))


def openai_frame(chunk: WireObject[ChatCompletionChunk]) -> bytes:
    """One OpenAI SSE frame."""
    return b"data: " + chunk.encode() + b"\n\n"


OPENAI_DONE = b"data: [DONE]\n\n"
anthropic_frame = encode_stream_event
