"""OpenAI Chat Completions <-> Gemini ``generateContent``, for Gemini upstreams.

Requests: system/developer messages -> ``systemInstruction``; assistant turns -> ``model``
turns with ``functionCall`` parts; tool messages -> ``functionResponse`` parts (named after the
call they answer; a JSON object result is sent as is, other text as ``{"content": text}``);
images, audio and files inline (``data:`` URLs) -> ``inlineData``, other URLs -> ``fileData``;
``tool_choice`` -> ``functionCallingConfig`` (required -> ANY, a function -> ANY narrowed to it);
sampling fields -> ``generationConfig`` (``response_format`` -> ``responseMimeType`` and
``responseSchema``; ``n`` -> ``candidateCount``). JSON Schema keys Gemini rejects
(``$schema``, ``additionalProperties``) are removed from tool and response schemas.

Responses and streams: text parts -> content, thought parts -> ``reasoning_content``,
``functionCall`` parts -> tool calls whose arguments arrive whole, ``usageMetadata`` -> usage
(thought tokens counted as reasoning tokens and added to completion tokens).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec

from hyperstrate_providers import gemini_types as gemini
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import IncompleteStreamError, TranslationError
from hyperstrate_providers.translate.common import (
    arguments_from_tool_input,
    parse_data_url,
    tool_input_from_arguments,
)
from hyperstrate_providers.translate.stop_reasons import gemini_finish_to_openai_finish
from hyperstrate_providers.usage import TokenUsage, usage_from_gemini, usage_to_openai

__all__ = ["GeminiStreamToOpenAI", "gemini_response_to_openai", "openai_request_to_gemini"]

_UNSUPPORTED_SCHEMA_KEYS = frozenset({"$schema", "additionalProperties"})
_AUDIO_MIME_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}


def openai_request_to_gemini(
    request: openai.ChatCompletionRequest,
) -> gemini.GenerateContentRequest:
    """Translate a chat completions request into a ``generateContent`` request."""
    if request.logit_bias:
        raise TranslationError("logit_bias is not supported by Gemini models")
    system_parts: list[gemini.Part] = []
    contents: list[gemini.Content] = []
    call_names: dict[str, str] = {}
    for message in request.messages:
        if message.role in ("system", "developer"):
            text = openai.message_text(message.content)
            if text:
                system_parts.append(gemini.Part(text=text))
        elif message.role == "user":
            _append(contents, "user", [_user_part(part) for part in _parts(message.content)])
        elif message.role == "assistant":
            _append(contents, "model", _model_parts(message, call_names))
        elif message.role == "tool":
            _append(contents, "user", [_function_response(message, call_names)])
        else:
            raise TranslationError(f"message role {message.role!r} is not supported")
    return gemini.GenerateContentRequest(
        contents=contents,
        system_instruction=gemini.Content(parts=system_parts) if system_parts else None,
        tools=_tools(request.tools),
        tool_config=_tool_config(request.tool_choice),
        generation_config=_generation_config(request),
    )


def _append(contents: list[gemini.Content], role: str, parts: list[gemini.Part]) -> None:
    if not parts:
        return
    if contents and contents[-1].role == role:
        contents[-1].parts.extend(parts)
    else:
        contents.append(gemini.Content(role=role, parts=parts))


def _parts(content: str | list[openai.ContentPart] | None) -> list[openai.ContentPart]:
    if content is None:
        return []
    if isinstance(content, str):
        return [openai.TextPart(text=content)]
    return list(content)


def _user_part(part: openai.ContentPart) -> gemini.Part:
    if isinstance(part, openai.TextPart):
        return gemini.Part(text=part.text)
    if isinstance(part, openai.RefusalPart):
        return gemini.Part(text=part.refusal)
    if isinstance(part, openai.ImageUrlPart):
        return _media_part(part.image_url.url, default_mime_type="image/jpeg")
    if isinstance(part, openai.InputAudioPart):
        mime_type = _AUDIO_MIME_TYPES.get(part.input_audio.format, "audio/wav")
        return gemini.Part(
            inline_data=gemini.InlineData(mime_type=mime_type, data=part.input_audio.data)
        )
    if part.file.file_data is None:
        raise TranslationError("files by file_id are not supported by Gemini models")
    return _media_part(part.file.file_data, default_mime_type="application/pdf")


def _media_part(url: str, *, default_mime_type: str) -> gemini.Part:
    inline = parse_data_url(url)
    if inline is None:
        return gemini.Part(file_data=gemini.FileData(file_uri=url, mime_type=default_mime_type))
    mime_type, data = inline
    return gemini.Part(inline_data=gemini.InlineData(mime_type=mime_type, data=data))


def _model_parts(message: openai.ChatMessage, call_names: dict[str, str]) -> list[gemini.Part]:
    parts: list[gemini.Part] = []
    text = openai.message_text(message.content)
    if text:
        parts.append(gemini.Part(text=text))
    for call in message.tool_calls or ():
        call_names[call.id] = call.function.name
        parts.append(
            gemini.Part(
                function_call=gemini.FunctionCall(
                    name=call.function.name,
                    args=tool_input_from_arguments(call.function.arguments),
                )
            )
        )
    return parts


def _function_response(message: openai.ChatMessage, call_names: dict[str, str]) -> gemini.Part:
    name = call_names.get(message.tool_call_id or "")
    if name is None:
        raise TranslationError(
            f"tool message {message.tool_call_id!r} answers no earlier assistant tool call"
        )
    text = openai.message_text(message.content)
    response: dict[str, Any] = {"content": text}
    try:
        decoded = msgspec.json.decode(text)
    except msgspec.DecodeError:
        decoded = None
    if isinstance(decoded, dict):
        response = decoded
    return gemini.Part(function_response=gemini.FunctionResponse(name=name, response=response))


def _clean_schema(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            key: _clean_schema(value)
            for key, value in schema.items()
            if key not in _UNSUPPORTED_SCHEMA_KEYS
        }
    if isinstance(schema, list):
        return [_clean_schema(item) for item in schema]
    return schema


def _tools(tools: list[openai.Tool] | None) -> list[gemini.GeminiTool] | None:
    if not tools:
        return None
    declarations = []
    for tool in tools:
        if tool.type != "function":
            raise TranslationError(f"tool type {tool.type!r} is not supported by Gemini models")
        declarations.append(
            gemini.FunctionDeclaration(
                name=tool.function.name,
                description=tool.function.description,
                parameters=_clean_schema(tool.function.parameters)
                if tool.function.parameters
                else None,
            )
        )
    return [gemini.GeminiTool(function_declarations=declarations)]


def _tool_config(choice: openai.ToolChoice | None) -> gemini.ToolConfig | None:
    if choice is None:
        return None
    if isinstance(choice, openai.ToolChoiceFunction):
        config = gemini.FunctionCallingConfig(
            mode="ANY", allowed_function_names=[choice.function.name]
        )
    else:
        modes = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
        if choice not in modes:
            raise TranslationError(f"tool_choice {choice!r} is not supported")
        config = gemini.FunctionCallingConfig(mode=modes[choice])
    return gemini.ToolConfig(function_calling_config=config)


def _generation_config(request: openai.ChatCompletionRequest) -> gemini.GenerationConfig | None:
    mime_type = None
    schema = None
    if isinstance(request.response_format, openai.ResponseFormatJsonObject):
        mime_type = "application/json"
    elif isinstance(request.response_format, openai.ResponseFormatJsonSchema):
        mime_type = "application/json"
        schema = _clean_schema(request.response_format.json_schema.schema)
    config = gemini.GenerationConfig(
        temperature=request.temperature,
        top_p=request.top_p,
        max_output_tokens=request.output_token_limit,
        stop_sequences=request.stop_sequences or None,
        candidate_count=request.n,
        seed=request.seed,
        presence_penalty=request.presence_penalty,
        frequency_penalty=request.frequency_penalty,
        response_mime_type=mime_type,
        response_schema=schema,
        response_logprobs=request.logprobs,
        logprobs=request.top_logprobs,
    )
    return None if config == gemini.GenerationConfig() else config


def gemini_response_to_openai(
    response: gemini.GenerateContentResponse, *, model: str, created: int | None = None
) -> openai.ChatCompletion:
    """Translate a ``generateContent`` response into a chat completion (one choice per
    candidate; a prompt blocked before any candidate gives one empty ``content_filter``
    choice)."""
    response_id = response.response_id or uuid.uuid4().hex
    choices = []
    for position, candidate in enumerate(response.candidates):
        texts: list[str] = []
        thoughts: list[str] = []
        calls: list[openai.ToolCall] = []
        for part in candidate.content.parts if candidate.content else ():
            if part.function_call is not None:
                calls.append(_tool_call(part.function_call, response_id, len(calls)))
            elif part.text is not None:
                (thoughts if part.thought else texts).append(part.text)
        text = "".join(texts)
        choices.append(
            openai.Choice(
                index=position,
                message=openai.AssistantMessage(
                    content=text if text or not calls else None,
                    tool_calls=calls or None,
                    reasoning_content="".join(thoughts) or None,
                ),
                finish_reason=gemini_finish_to_openai_finish(
                    candidate.finish_reason, called_tools=bool(calls)
                ),
            )
        )
    if not choices:
        choices.append(
            openai.Choice(
                index=0,
                message=openai.AssistantMessage(content=None),
                finish_reason="content_filter",
            )
        )
    usage = None
    if response.usage_metadata is not None:
        usage = usage_to_openai(usage_from_gemini(response.usage_metadata))
    return openai.ChatCompletion(
        id=f"chatcmpl-{response_id}",
        created=int(time.time()) if created is None else created,
        model=response.model_version or model,
        choices=choices,
        usage=usage,
    )


def _tool_call(call: gemini.FunctionCall, response_id: str, position: int) -> openai.ToolCall:
    return openai.ToolCall(
        id=call.id or f"call_{response_id}_{position}",
        function=openai.FunctionCall(
            name=call.name, arguments=arguments_from_tool_input(call.args)
        ),
    )


class GeminiStreamToOpenAI:
    """Stateful translator of ``streamGenerateContent?alt=sse`` events into OpenAI chunks.

    Gemini sends no terminal event: a stream is complete once a candidate has a
    ``finishReason``. :meth:`finish` then emits the usage chunk, or raises
    :class:`IncompleteStreamError` when no finish reason came. Only candidate 0 is translated.
    """

    def __init__(
        self, *, model: str, include_usage: bool = True, created: int | None = None
    ) -> None:
        """``model`` names the chunks when Gemini reports no ``modelVersion``."""
        self._model = model
        self._include_usage = include_usage
        self._created = int(time.time()) if created is None else created
        self._id = ""
        self._tool_calls = 0
        self._finish_reason: str | None = None
        self._usage: TokenUsage | None = None

    @property
    def usage(self) -> TokenUsage | None:
        """The latest usage reported (Gemini repeats the running totals)."""
        return self._usage

    def feed(self, response: gemini.GenerateContentResponse) -> list[openai.ChatCompletionChunk]:
        """Translate one streamed response into zero or more chunks."""
        chunks: list[openai.ChatCompletionChunk] = []
        if not self._id:
            self._id = response.response_id or uuid.uuid4().hex
            self._model = response.model_version or self._model
            chunks.append(self._chunk(openai.Delta(role="assistant", content="")))
        if response.usage_metadata is not None:
            self._usage = usage_from_gemini(response.usage_metadata)
        for candidate in response.candidates[:1]:
            for part in candidate.content.parts if candidate.content else ():
                chunks.extend(self._on_part(part))
            if candidate.finish_reason is not None:
                self._finish_reason = gemini_finish_to_openai_finish(
                    candidate.finish_reason, called_tools=self._tool_calls > 0
                )
                chunks.append(self._chunk(openai.Delta(), finish_reason=self._finish_reason))
        return chunks

    def finish(self) -> list[openai.ChatCompletionChunk]:
        """End of the byte stream: the usage chunk, or :class:`IncompleteStreamError`."""
        if self._finish_reason is None:
            raise IncompleteStreamError("the Gemini stream ended without a finishReason")
        if not self._include_usage or self._usage is None:
            return []
        return [
            openai.ChatCompletionChunk(
                id=f"chatcmpl-{self._id}",
                created=self._created,
                model=self._model,
                choices=[],
                usage=usage_to_openai(self._usage),
            )
        ]

    def _on_part(self, part: gemini.Part) -> list[openai.ChatCompletionChunk]:
        if part.function_call is not None:
            call = _tool_call(part.function_call, self._id, self._tool_calls)
            delta = openai.ToolCallDelta(
                index=self._tool_calls,
                id=call.id,
                type="function",
                function=openai.FunctionCallDelta(
                    name=call.function.name, arguments=call.function.arguments
                ),
            )
            self._tool_calls += 1
            return [self._chunk(openai.Delta(tool_calls=[delta]))]
        if part.text:
            if part.thought:
                return [self._chunk(openai.Delta(reasoning_content=part.text))]
            return [self._chunk(openai.Delta(content=part.text))]
        return []

    def _chunk(
        self, delta: openai.Delta, finish_reason: str | None = None
    ) -> openai.ChatCompletionChunk:
        return openai.ChatCompletionChunk(
            id=f"chatcmpl-{self._id}",
            created=self._created,
            model=self._model,
            choices=[openai.ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        )
