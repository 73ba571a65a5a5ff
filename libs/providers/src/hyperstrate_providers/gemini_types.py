"""Gemini ``generateContent`` wire types (camelCase, as Google's REST API spells them).

Only the subset the gateway translates to and from: contents and parts (text, inline data, file
data, function calls and responses), system instruction, tools, tool config, generation config,
candidates and usage metadata.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "Candidate",
    "Content",
    "FileData",
    "FunctionCall",
    "FunctionCallingConfig",
    "FunctionDeclaration",
    "FunctionResponse",
    "GeminiTool",
    "GenerateContentRequest",
    "GenerateContentResponse",
    "GenerationConfig",
    "InlineData",
    "Part",
    "ToolConfig",
    "UsageMetadata",
]


class _Wire(msgspec.Struct, omit_defaults=True, rename="camel"):
    """Base of the Gemini types: camelCase names, unset fields left out."""


class InlineData(_Wire):
    """Inline bytes (base64) with their MIME type."""

    mime_type: str
    data: str


class FileData(_Wire):
    """A file by URI (Files API or a public URL) with its MIME type."""

    file_uri: str
    mime_type: str | None = None


class FunctionCall(_Wire):
    """The model calls function ``name`` with the JSON object ``args``."""

    name: str
    args: dict[str, Any] = {}
    id: str | None = None


class FunctionResponse(_Wire):
    """The result of a function call, as a JSON object."""

    name: str
    response: dict[str, Any]
    id: str | None = None


class Part(_Wire):
    """One part of a content; exactly one of the data fields is set. ``thought`` marks a
    thought summary."""

    text: str | None = None
    inline_data: InlineData | None = None
    file_data: FileData | None = None
    function_call: FunctionCall | None = None
    function_response: FunctionResponse | None = None
    thought: bool | None = None
    thought_signature: str | None = None


class Content(_Wire):
    """A turn; ``role`` is ``user`` or ``model`` (absent on a system instruction)."""

    parts: list[Part]
    role: str | None = None


class FunctionDeclaration(_Wire):
    """A callable function and its parameter schema (OpenAPI subset)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class GeminiTool(_Wire):
    """A tool entry: a list of function declarations."""

    function_declarations: list[FunctionDeclaration]


class FunctionCallingConfig(_Wire):
    """``mode`` is AUTO, ANY or NONE; ANY may be narrowed to ``allowed_function_names``."""

    mode: str
    allowed_function_names: list[str] | None = None


class ToolConfig(_Wire):
    """How the model may call functions."""

    function_calling_config: FunctionCallingConfig


class GenerationConfig(_Wire):
    """Sampling and output settings."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    stop_sequences: list[str] | None = None
    candidate_count: int | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    response_mime_type: str | None = None
    response_schema: dict[str, Any] | None = None
    response_logprobs: bool | None = None
    logprobs: int | None = None


class GenerateContentRequest(_Wire):
    """``POST /v1beta/models/{model}:generateContent`` body."""

    contents: list[Content]
    system_instruction: Content | None = None
    tools: list[GeminiTool] | None = None
    tool_config: ToolConfig | None = None
    generation_config: GenerationConfig | None = None


class UsageMetadata(_Wire):
    """Token counts; ``thoughts_token_count`` is not included in ``candidates_token_count``."""

    prompt_token_count: int = 0
    candidates_token_count: int = 0
    total_token_count: int = 0
    cached_content_token_count: int | None = None
    thoughts_token_count: int | None = None


class Candidate(_Wire):
    """One response alternative; ``finish_reason`` is STOP, MAX_TOKENS, SAFETY, ..."""

    content: Content | None = None
    finish_reason: str | None = None
    index: int = 0


class GenerateContentResponse(_Wire):
    """A response, or one ``data:`` event of ``streamGenerateContent?alt=sse``."""

    candidates: list[Candidate] = []
    usage_metadata: UsageMetadata | None = None
    model_version: str | None = None
    response_id: str | None = None
