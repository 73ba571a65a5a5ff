"""`storePayloads`: what a router keeps of one inference for its log detail.

The request as the model got it (the pipeline's chat request after the linked prompt and the
request-side interceptors, with the target's model) and the answer as the client got it: the
whole body, or a stream assembled into one body in the client's API (an OpenAI
`chat.completion`, an Anthropic `message`). Each is cut at `max_bytes` UTF-8 bytes, the cut
flagged. A `PayloadCapture` only holds references; the bodies are encoded and assembled when
the event publisher builds the event, after the answer has left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from hyperstrate_contracts.inference import InferencePayloadCaptured
from hyperstrate_providers import WireObject
from hyperstrate_providers.anthropic_types import decode_stream_event
from hyperstrate_providers.errors import UpstreamStreamError
from hyperstrate_providers.openai_types import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    FunctionCall,
    ToolCall,
    Usage,
)
from hyperstrate_providers.sse import SseParser
from hyperstrate_providers.translate import AnthropicStreamToOpenAI, openai_response_to_anthropic
from hyperstrate_router.application.inference.formats import Api, api_error

__all__ = [
    "DEFAULT_PAYLOAD_MAX_BYTES",
    "MAX_PAYLOAD_MAX_BYTES",
    "PayloadCapture",
    "assembled_answer",
    "within_cap",
]

DEFAULT_PAYLOAD_MAX_BYTES = 64 * 1024
# Both bodies travel in one NATS message (1 MiB by default). A body is JSON text, so its
# escaping inside the event at most doubles it: two bodies of 128 KiB stay under 600 KiB.
MAX_PAYLOAD_MAX_BYTES = 128 * 1024

_encoder = msgspec.json.Encoder()
_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)


@dataclass(frozen=True, slots=True)
class PayloadCapture:
    """One inference's bodies, by reference; calling it builds the event (see the module)."""

    org_id: str
    request_id: str
    router_id: str
    occurred_at: datetime
    api: Api
    request: WireObject[ChatCompletionRequest]  # the chat request as the model got it
    model: str | None  # the target's model, which the provider was called with
    body: bytes  # the whole answer, when not a stream
    frames: Sequence[bytes]  # the stream's frames as the client got them
    max_bytes: int
    failure: tuple[int, str] | None = field(default=None)  # (status, message) of a failure

    def __call__(self) -> InferencePayloadCaptured:
        request = self.request.raw  # built here, not on the answer's path (Anthropic clients)
        if self.model:
            request = {**request, "model": self.model}
        request_body, request_truncated = within_cap(_encoder.encode(request), self.max_bytes)
        response_body, response_truncated = within_cap(self._answer(), self.max_bytes)
        return InferencePayloadCaptured(
            org_id=self.org_id,
            aggregate_id=self.request_id,
            request_id=self.request_id,
            router_id=self.router_id,
            occurred_at=self.occurred_at,
            request_body=request_body,
            response_body=response_body,
            request_truncated=request_truncated,
            response_truncated=response_truncated,
        )

    def _answer(self) -> bytes:
        """What the client got: the (partial) stream, else the body, else the error body."""
        if self.frames:
            return assembled_answer(self.api, self.frames)
        if self.failure is not None:
            status, message = self.failure
            return api_error(self.api, status, message)
        return self.body


def within_cap(body: bytes, max_bytes: int) -> tuple[str, bool]:
    """`body` as text of at most `max_bytes` UTF-8 bytes, and whether it was cut (never in
    the middle of a character)."""
    if len(body) <= max_bytes:
        return body.decode("utf-8", errors="replace"), False
    return body[:max_bytes].decode("utf-8", errors="ignore"), True


def assembled_answer(api: Api, frames: Sequence[bytes]) -> bytes:
    """A stream's frames as one answer body in the client's API; frames that cannot be read
    (a stream cut mid-frame, say) are kept as they came, joined."""
    try:
        chunks = _openai_chunks(frames) if api == "openai" else _anthropic_chunks(frames)
        completion = _assembled(chunks)
    except (ValueError, LookupError, UpstreamStreamError):  # DecodeError is a ValueError
        return b"".join(frames)
    if api == "anthropic":
        return _encoder.encode(openai_response_to_anthropic(completion))
    return _encoder.encode(completion)


def _sse_data(frames: Sequence[bytes]) -> list[str]:
    parser = SseParser()
    events = [event for frame in frames for event in parser.feed(frame)]
    return [event.data for event in [*events, *parser.close()] if event.data]


def _openai_chunks(frames: Sequence[bytes]) -> list[ChatCompletionChunk]:
    return [_chunk_decoder.decode(data) for data in _sse_data(frames) if data != "[DONE]"]


def _anthropic_chunks(frames: Sequence[bytes]) -> list[ChatCompletionChunk]:
    translator = AnthropicStreamToOpenAI(include_usage=True, created=0)
    return [
        chunk for data in _sse_data(frames) for chunk in translator.feed(decode_stream_event(data))
    ]


@dataclass
class _ChoiceSoFar:
    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    tool_calls: dict[int, tuple[list[str], list[str], list[str]]] = field(default_factory=dict)
    finish_reason: str | None = None

    def message(self) -> AssistantMessage:
        calls = [
            ToolCall(
                id="".join(ids),
                function=FunctionCall(name="".join(names), arguments="".join(arguments)),
            )
            for _, (ids, names, arguments) in sorted(self.tool_calls.items())
        ]
        return AssistantMessage(
            content="".join(self.content) if self.content or not calls else None,
            tool_calls=calls or None,
            refusal="".join(self.refusal) or None,
            reasoning_content="".join(self.reasoning) or None,
        )


def _assembled(chunks: list[ChatCompletionChunk]) -> ChatCompletion:
    """Stream chunks folded into the `chat.completion` a whole answer would have been."""
    choices: dict[int, _ChoiceSoFar] = {}
    usage: Usage | None = None
    for chunk in chunks:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            so_far = choices.setdefault(choice.index, _ChoiceSoFar())
            delta = choice.delta
            for part, pieces in (
                (delta.content, so_far.content),
                (delta.reasoning_content, so_far.reasoning),
                (delta.refusal, so_far.refusal),
            ):
                if part:
                    pieces.append(part)
            for call in delta.tool_calls or ():
                ids, names, arguments = so_far.tool_calls.setdefault(call.index, ([], [], []))
                ids.append(call.id or "")
                if call.function is not None:
                    names.append(call.function.name or "")
                    arguments.append(call.function.arguments or "")
            so_far.finish_reason = choice.finish_reason or so_far.finish_reason
    first = chunks[0]
    return ChatCompletion(
        id=first.id,
        created=first.created,
        model=first.model,
        choices=[
            Choice(index=index, message=so_far.message(), finish_reason=so_far.finish_reason)
            for index, so_far in sorted(choices.items())
        ],
        usage=usage,
        system_fingerprint=first.system_fingerprint,
    )
