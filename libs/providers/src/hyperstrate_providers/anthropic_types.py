"""Anthropic Messages API wire types (request, response, stream events), in Anthropic's snake_case.

Like :mod:`openai_types`, these Structs are typed views that ignore unknown fields; use
:func:`decode_messages_request` (a :class:`~hyperstrate_providers.wire.WireObject`) to keep them.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from hyperstrate_providers.wire import WireObject

__all__ = [
    "Base64DocumentSource",
    "Base64ImageSource",
    "CacheControl",
    "ContentBlock",
    "ContentBlockDeltaEvent",
    "ContentBlockStartEvent",
    "ContentBlockStopEvent",
    "DocumentBlock",
    "DocumentSource",
    "ErrorBody",
    "ErrorEvent",
    "ImageBlock",
    "ImageSource",
    "InputJsonDelta",
    "Message",
    "MessageDelta",
    "MessageDeltaEvent",
    "MessageDeltaUsage",
    "MessageStartEvent",
    "MessageStopEvent",
    "MessagesRequest",
    "MessagesResponse",
    "Metadata",
    "PingEvent",
    "PlainTextDocumentSource",
    "RedactedThinkingBlock",
    "SignatureDelta",
    "StreamDelta",
    "StreamEvent",
    "TextBlock",
    "TextDelta",
    "ThinkingBlock",
    "ThinkingConfig",
    "ThinkingDelta",
    "ThinkingDisabled",
    "ThinkingEnabled",
    "Tool",
    "ToolChoice",
    "ToolChoiceAny",
    "ToolChoiceAuto",
    "ToolChoiceNone",
    "ToolChoiceTool",
    "ToolResultBlock",
    "ToolUseBlock",
    "UrlDocumentSource",
    "UrlImageSource",
    "Usage",
    "decode_messages_request",
    "decode_stream_event",
    "encode_stream_event",
    "system_text",
]


class _Wire(msgspec.Struct, omit_defaults=True):
    """Base of the request-side types: unset optional fields are left out when encoding."""


class _Written(msgspec.Struct):
    """Base of the response-side types: every field is written, nulls included, as
    Anthropic does."""


class CacheControl(_Wire):
    """Prompt-cache breakpoint: ``{"type": "ephemeral", "ttl": "5m" | "1h"}``."""

    type: str
    ttl: str | None = None


# --- sources -------------------------------------------------------------------------------


class Base64ImageSource(_Wire, tag="base64", tag_field="type"):
    """Inline image bytes, base64 encoded, with their ``media_type``."""

    media_type: str
    data: str


class UrlImageSource(_Wire, tag="url", tag_field="type"):
    """An image fetched by the provider from ``url``."""

    url: str


ImageSource: TypeAlias = Base64ImageSource | UrlImageSource


class Base64DocumentSource(_Wire, tag="base64", tag_field="type"):
    """An inline document (``application/pdf``), base64 encoded."""

    media_type: str
    data: str


class PlainTextDocumentSource(_Wire, tag="text", tag_field="type"):
    """An inline plain-text document."""

    data: str
    media_type: str


class UrlDocumentSource(_Wire, tag="url", tag_field="type"):
    """A document fetched by the provider from ``url``."""

    url: str


DocumentSource: TypeAlias = Base64DocumentSource | PlainTextDocumentSource | UrlDocumentSource


# --- content blocks ------------------------------------------------------------------------


class TextBlock(_Wire, tag="text", tag_field="type"):
    """Text; ``citations`` are kept as provider JSON."""

    text: str
    cache_control: CacheControl | None = None
    citations: list[dict[str, Any]] | None = None


class ImageBlock(_Wire, tag="image", tag_field="type"):
    """An image input."""

    source: ImageSource
    cache_control: CacheControl | None = None


class DocumentBlock(_Wire, tag="document", tag_field="type"):
    """A document input (PDF, plain text or URL)."""

    source: DocumentSource
    title: str | None = None
    context: str | None = None
    citations: dict[str, Any] | None = None
    cache_control: CacheControl | None = None


class ToolUseBlock(_Wire, tag="tool_use", tag_field="type"):
    """The model calls tool ``name`` with the JSON object ``input``."""

    id: str
    name: str
    input: dict[str, Any]
    cache_control: CacheControl | None = None


class ToolResultBlock(_Wire, tag="tool_result", tag_field="type"):
    """The result of tool call ``tool_use_id``, as text or text and image blocks."""

    tool_use_id: str
    content: str | list[TextBlock | ImageBlock] | None = None
    is_error: bool | None = None
    cache_control: CacheControl | None = None


class ThinkingBlock(_Written, tag="thinking", tag_field="type"):
    """Extended-thinking text and the signature that must be sent back with it."""

    thinking: str
    signature: str


class RedactedThinkingBlock(_Wire, tag="redacted_thinking", tag_field="type"):
    """Encrypted thinking the provider will not show."""

    data: str


ContentBlock: TypeAlias = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolUseBlock
    | ToolResultBlock
    | ThinkingBlock
    | RedactedThinkingBlock
)


class Message(_Wire):
    """One turn; ``role`` is ``user`` or ``assistant``."""

    role: str
    content: str | list[ContentBlock]


# --- request -------------------------------------------------------------------------------


class Tool(_Wire):
    """A client tool; server tools (``type`` like ``web_search_20250305``) keep their fields in
    the raw request."""

    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None
    cache_control: CacheControl | None = None


class ToolChoiceAuto(_Wire, tag="auto", tag_field="type"):
    """The model decides whether to call tools."""

    disable_parallel_tool_use: bool | None = None


class ToolChoiceAny(_Wire, tag="any", tag_field="type"):
    """The model must call some tool."""

    disable_parallel_tool_use: bool | None = None


class ToolChoiceTool(_Wire, tag="tool", tag_field="type"):
    """The model must call tool ``name``."""

    name: str
    disable_parallel_tool_use: bool | None = None


class ToolChoiceNone(_Wire, tag="none", tag_field="type"):
    """The model must not call tools."""


ToolChoice: TypeAlias = ToolChoiceAuto | ToolChoiceAny | ToolChoiceTool | ToolChoiceNone


class ThinkingEnabled(_Wire, tag="enabled", tag_field="type"):
    """Extended thinking with a token budget."""

    budget_tokens: int


class ThinkingDisabled(_Wire, tag="disabled", tag_field="type"):
    """No extended thinking."""


ThinkingConfig: TypeAlias = ThinkingEnabled | ThinkingDisabled


class Metadata(_Wire):
    """Request metadata: an opaque end-user id."""

    user_id: str | None = None


class MessagesRequest(_Wire):
    """``POST /v1/messages`` body."""

    model: str
    messages: list[Message]
    max_tokens: int
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    metadata: Metadata | None = None
    thinking: ThinkingConfig | None = None
    service_tier: str | None = None


def system_text(system: str | list[TextBlock] | None) -> str:
    """The system prompt as one string (blocks joined by blank lines)."""
    if system is None:
        return ""
    if isinstance(system, str):
        return system
    return "\n\n".join(block.text for block in system)


def decode_messages_request(body: bytes | str) -> WireObject[MessagesRequest]:
    """Decode a Messages request body, keeping every field (see :mod:`wire`)."""
    return WireObject.decode(body, MessagesRequest)


# --- response ------------------------------------------------------------------------------


class Usage(_Written):
    """Token counts; ``input_tokens`` excludes the cache reads and writes counted beside it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class MessagesResponse(_Written):
    """A complete Messages API response (also the ``message`` of ``message_start``).

    ``stop_reason`` is end_turn, max_tokens, stop_sequence, tool_use, pause_turn or refusal.
    """

    id: str
    model: str
    content: list[ContentBlock]
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = msgspec.field(default_factory=Usage)
    type: str = "message"
    role: str = "assistant"


# --- stream events -------------------------------------------------------------------------


class TextDelta(_Wire, tag="text_delta", tag_field="type"):
    """More text for a text block."""

    text: str


class InputJsonDelta(_Wire, tag="input_json_delta", tag_field="type"):
    """A fragment of a tool_use block's JSON input."""

    partial_json: str


class ThinkingDelta(_Wire, tag="thinking_delta", tag_field="type"):
    """More thinking text."""

    thinking: str


class SignatureDelta(_Wire, tag="signature_delta", tag_field="type"):
    """The signature of a thinking block, sent just before it stops."""

    signature: str


StreamDelta: TypeAlias = TextDelta | InputJsonDelta | ThinkingDelta | SignatureDelta


class MessageStartEvent(_Wire, tag="message_start", tag_field="type"):
    """First event: the message shell with the input usage."""

    message: MessagesResponse


class ContentBlockStartEvent(_Wire, tag="content_block_start", tag_field="type"):
    """A content block opens at ``index``."""

    index: int
    content_block: ContentBlock


class ContentBlockDeltaEvent(_Wire, tag="content_block_delta", tag_field="type"):
    """A delta for the open block at ``index``."""

    index: int
    delta: StreamDelta


class ContentBlockStopEvent(_Wire, tag="content_block_stop", tag_field="type"):
    """The block at ``index`` is complete."""

    index: int


class MessageDelta(_Written):
    """Top-level changes at the end of the message."""

    stop_reason: str | None = None
    stop_sequence: str | None = None


class MessageDeltaUsage(_Written):
    """Cumulative usage reported by ``message_delta`` (``output_tokens`` is the total)."""

    output_tokens: int = 0
    input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class MessageDeltaEvent(_Written, tag="message_delta", tag_field="type"):
    """Stop reason and final usage."""

    delta: MessageDelta
    usage: MessageDeltaUsage = msgspec.field(default_factory=MessageDeltaUsage)


class MessageStopEvent(_Wire, tag="message_stop", tag_field="type"):
    """Last event of a complete stream."""


class PingEvent(_Wire, tag="ping", tag_field="type"):
    """Keep-alive."""


class ErrorBody(_Wire):
    """``type`` like ``overloaded_error``, ``rate_limit_error``, ``invalid_request_error``."""

    type: str
    message: str


class ErrorEvent(_Wire, tag="error", tag_field="type"):
    """An error reported inside the stream (also the shape of HTTP error bodies)."""

    error: ErrorBody


StreamEvent: TypeAlias = (
    MessageStartEvent
    | ContentBlockStartEvent
    | ContentBlockDeltaEvent
    | ContentBlockStopEvent
    | MessageDeltaEvent
    | MessageStopEvent
    | PingEvent
    | ErrorEvent
)

_stream_event_decoder: msgspec.json.Decoder[StreamEvent] = msgspec.json.Decoder(StreamEvent)
_encoder = msgspec.json.Encoder()


def decode_stream_event(data: bytes | str) -> StreamEvent:
    """Decode the ``data:`` of one Messages stream event."""
    return _stream_event_decoder.decode(data)


def encode_stream_event(event: StreamEvent) -> bytes:
    """Encode one stream event as a complete SSE frame (``event:`` and ``data:`` lines)."""
    name = type(event).__struct_config__.tag
    return b"event: " + str(name).encode() + b"\ndata: " + _encoder.encode(event) + b"\n\n"
