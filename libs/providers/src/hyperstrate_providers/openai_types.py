"""OpenAI Chat Completions wire types (request, response, stream chunk), in OpenAI's snake_case.

These Structs are the gateway's canonical request and response shapes. They ignore fields they
do not know; wrap them in :class:`~hyperstrate_providers.wire.WireObject` to keep those fields
when a request is forwarded to an OpenAI-compatible upstream.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

from hyperstrate_providers.wire import WireObject

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatMessage",
    "Choice",
    "ChoiceLogprobs",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentPart",
    "Delta",
    "FileData",
    "FilePart",
    "FunctionCall",
    "FunctionCallDelta",
    "FunctionDefinition",
    "ImageUrl",
    "ImageUrlPart",
    "InputAudio",
    "InputAudioPart",
    "JsonSchemaFormat",
    "Model",
    "ModelList",
    "PromptTokensDetails",
    "RefusalPart",
    "ResponseFormat",
    "ResponseFormatJsonObject",
    "ResponseFormatJsonSchema",
    "ResponseFormatText",
    "StreamOptions",
    "TextPart",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolChoiceFunction",
    "ToolChoiceFunctionName",
    "TopLogprob",
    "Usage",
    "decode_chat_request",
    "message_text",
]


class _Wire(msgspec.Struct, omit_defaults=True):
    """Base of the request-side and delta types: unset optional fields are left out."""


class _Written(msgspec.Struct):
    """Base of the response-side types: every field is written, nulls included, as OpenAI
    does (``object``, ``type`` and ``finish_reason`` must never go missing)."""


# --- content parts -------------------------------------------------------------------------


class TextPart(_Wire, tag="text", tag_field="type"):
    """``{"type": "text", "text": ...}``.

    ``cache_control`` is the widespread extension (LiteLLM, OpenRouter) that marks an Anthropic
    prompt-cache breakpoint; OpenAI itself ignores it.
    """

    text: str
    cache_control: dict[str, Any] | None = None


class ImageUrl(_Wire):
    """An image by URL or ``data:`` URL; ``detail`` is ``auto``, ``low`` or ``high``."""

    url: str
    detail: str | None = None


class ImageUrlPart(_Wire, tag="image_url", tag_field="type"):
    """``{"type": "image_url", "image_url": {...}}``."""

    image_url: ImageUrl


class InputAudio(_Wire):
    """Base64 audio; ``format`` is ``wav`` or ``mp3``."""

    data: str
    format: str


class InputAudioPart(_Wire, tag="input_audio", tag_field="type"):
    """``{"type": "input_audio", "input_audio": {...}}``."""

    input_audio: InputAudio


class FileData(_Wire):
    """A file inline (``file_data`` is a ``data:`` URL) or by uploaded ``file_id``."""

    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(_Wire, tag="file", tag_field="type"):
    """``{"type": "file", "file": {...}}``."""

    file: FileData


class RefusalPart(_Wire, tag="refusal", tag_field="type"):
    """An assistant refusal replayed as a content part."""

    refusal: str


ContentPart: TypeAlias = TextPart | ImageUrlPart | InputAudioPart | FilePart | RefusalPart


# --- tools -----------------------------------------------------------------------------------


class FunctionDefinition(_Wire):
    """A function tool's name, description and JSON Schema ``parameters``."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Written):
    """``{"type": "function", "function": {...}}``."""

    function: FunctionDefinition
    type: str = "function"


class ToolChoiceFunctionName(_Wire):
    """The name of the function a tool choice forces."""

    name: str


class ToolChoiceFunction(_Written):
    """``{"type": "function", "function": {"name": ...}}``: force one function."""

    function: ToolChoiceFunctionName
    type: str = "function"


ToolChoice: TypeAlias = str | ToolChoiceFunction
"""``"none"``, ``"auto"``, ``"required"`` or a :class:`ToolChoiceFunction`."""


class FunctionCall(_Wire):
    """A complete function call; ``arguments`` is a JSON text produced by the model."""

    name: str
    arguments: str


class ToolCall(_Written):
    """A complete tool call in an assistant message."""

    id: str
    function: FunctionCall
    type: str = "function"


class FunctionCallDelta(_Wire):
    """A piece of a streamed function call: the name once, then argument text fragments."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Wire):
    """A piece of a streamed tool call, keyed by ``index`` across chunks."""

    index: int
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


# --- messages --------------------------------------------------------------------------------


class ChatMessage(_Wire):
    """One request message; ``role`` is system, developer, user, assistant or tool."""

    role: str
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None


def message_text(content: str | list[ContentPart] | None) -> str:
    """The text of a message's content: the string, or its text parts joined."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content if isinstance(part, TextPart))


# --- request ---------------------------------------------------------------------------------


class ResponseFormatText(_Wire, tag="text", tag_field="type"):
    """Plain text output (the default)."""


class ResponseFormatJsonObject(_Wire, tag="json_object", tag_field="type"):
    """Any JSON object."""


class JsonSchemaFormat(_Wire):
    """A named JSON Schema the output must follow."""

    name: str
    schema: dict[str, Any] | None = None
    description: str | None = None
    strict: bool | None = None


class ResponseFormatJsonSchema(_Wire, tag="json_schema", tag_field="type"):
    """Output that follows ``json_schema``."""

    json_schema: JsonSchemaFormat


ResponseFormat: TypeAlias = ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema


class StreamOptions(_Wire):
    """``include_usage`` asks for a final chunk with ``usage`` and no choices."""

    include_usage: bool | None = None


class ChatCompletionRequest(_Wire):
    """``POST /v1/chat/completions`` body: the gateway's canonical request."""

    model: str
    messages: list[ChatMessage]
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    service_tier: str | None = None

    @property
    def output_token_limit(self) -> int | None:
        """``max_completion_tokens`` if set, else the legacy ``max_tokens``."""
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens

    @property
    def stop_sequences(self) -> list[str]:
        """``stop`` as a list."""
        if self.stop is None:
            return []
        if isinstance(self.stop, str):
            return [self.stop]
        return list(self.stop)

    @property
    def wants_usage_chunk(self) -> bool:
        """Whether a streaming client asked for the final usage chunk."""
        return bool(self.stream_options is not None and self.stream_options.include_usage)


def decode_chat_request(body: bytes | str) -> WireObject[ChatCompletionRequest]:
    """Decode a chat completions request body, keeping every field (see :mod:`wire`)."""
    return WireObject.decode(body, ChatCompletionRequest)


# --- usage -----------------------------------------------------------------------------------


class PromptTokensDetails(_Wire):
    """``cached_tokens``: prompt tokens served from the provider's prompt cache."""

    cached_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(_Wire):
    """``reasoning_tokens``: hidden reasoning tokens, included in ``completion_tokens``."""

    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class Usage(_Written):
    """Token counts of one completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


# --- response --------------------------------------------------------------------------------


class TopLogprob(_Written):
    """One alternative token and its log probability."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(_Written):
    """The chosen token, its log probability and the top alternatives."""

    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = []


class ChoiceLogprobs(_Written):
    """Log probabilities of a choice's content tokens."""

    content: list[TokenLogprob] | None = None
    refusal: list[TokenLogprob] | None = None


class AssistantMessage(_Written):
    """The message of a non-streaming choice (``content`` is written even when null)."""

    content: str | None
    role: str = "assistant"
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None


class Choice(_Written):
    """One completion alternative; ``finish_reason`` is stop, length, tool_calls or
    content_filter."""

    index: int
    message: AssistantMessage
    finish_reason: str | None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletion(_Written):
    """A non-streaming chat completion."""

    id: str
    created: int
    model: str
    choices: list[Choice]
    object: str = "chat.completion"
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


class Delta(_Wire):
    """The increment a stream chunk adds to a choice."""

    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    refusal: str | None = None
    reasoning_content: str | None = None


class ChunkChoice(_Written):
    """One choice's increment in a stream chunk."""

    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatCompletionChunk(_Written):
    """One ``data:`` event of a streamed chat completion.

    With ``stream_options.include_usage`` the last chunk has no choices and carries ``usage``.
    """

    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    object: str = "chat.completion.chunk"
    usage: Usage | None = None
    system_fingerprint: str | None = None
    service_tier: str | None = None


# --- models ----------------------------------------------------------------------------------


class Model(_Written):
    """An entry of ``GET /v1/models``."""

    id: str
    created: int = 0
    owned_by: str = "hyperstrate"
    object: str = "model"


class ModelList(_Written):
    """``GET /v1/models`` body."""

    data: list[Model]
    object: str = "list"
