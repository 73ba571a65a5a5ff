"""Errors as the client's SDK reads them, in the API it speaks (OpenAI or Anthropic): a whole
error body, and the SSE frame that ends a stream already begun with an error. The gateway and
the router answer with the same shapes."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["ClientApi", "api_error", "stream_error_frame"]

ClientApi = Literal["openai", "anthropic"]
_encoder = msgspec.json.Encoder()

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def api_error(api: ClientApi, status: int, message: str, code: str | None = None) -> bytes:
    """An error body as the client's SDK expects it."""
    if api == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return _encoder.encode({"type": "error", "error": {"type": kind, "message": message}})
    kind = _OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return _encoder.encode(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}
    )


def stream_error_frame(api: ClientApi, status: int, message: str, code: str | None = None) -> bytes:
    """The SSE frame that ends a stream with an error, as the client's SDK reads one:
    OpenAI's `data: {"error": ...}`, Anthropic's `event: error`."""
    body = api_error(api, status, message, code)
    if api == "anthropic":
        return b"event: error\ndata: " + body + b"\n\n"
    return b"data: " + body + b"\n\n"
