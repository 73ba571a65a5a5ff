"""Bodies and SSE frames in the API the client speaks (OpenAI or Anthropic), errors included
(those from `hyperstrate_providers.client_errors`, which the gateway shares)."""

from __future__ import annotations

import msgspec

from hyperstrate_providers import WireObject, decode_json_object
from hyperstrate_providers.anthropic_types import MessagesRequest, encode_stream_event
from hyperstrate_providers.client_errors import ClientApi, api_error, stream_error_frame
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

Api = ClientApi
_encoder = msgspec.json.Encoder()


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
