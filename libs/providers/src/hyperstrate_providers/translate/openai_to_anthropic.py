"""OpenAI Chat Completions -> Anthropic Messages: requests (for Anthropic upstreams) and
complete responses (for clients that speak Anthropic to an OpenAI-compatible upstream).

Request mapping:

* ``system``/``developer`` messages become ``system`` (text blocks, one string when single);
  ``tool`` messages become ``tool_result`` blocks in a user turn; consecutive turns of one role
  are merged, as Anthropic expects alternating roles.
* Images (``data:`` URL -> base64 source, other URLs -> url source), PDFs and text files given
  as ``file_data`` (-> ``document``), ``cache_control`` on text parts (-> cache breakpoints).
* ``tool_choice``: auto -> auto, required -> any, none -> none, a function -> tool;
  ``parallel_tool_calls=false`` -> ``disable_parallel_tool_use``.
* ``max_completion_tokens``/``max_tokens`` -> ``max_tokens`` (Anthropic requires it: a default
  applies); ``temperature`` is capped at 1.0 (Anthropic's range); ``stop`` -> ``stop_sequences``;
  ``user`` -> ``metadata.user_id``; ``reasoning_effort`` low/medium/high -> extended thinking
  with a 1024/4096/16384 token budget (``temperature`` is then left out, as Anthropic requires).
* ``response_format`` json_object/json_schema -> an instruction appended to the system prompt.
* Anthropic-only fields sent as extra top-level fields (``top_k``, ``thinking``) pass through.

Fields with no Anthropic meaning and no effect on the answer's shape are not sent: ``seed``,
penalties, ``logit_bias``, ``store``, ``metadata`` (OpenAI's stored-completion tags),
``service_tier``. Features that would change the answer's shape raise :class:`TranslationError`:
``n > 1``, ``logprobs``, audio input, files by ``file_id``, non-function tools.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import TranslationError
from hyperstrate_providers.translate.common import (
    decode_base64_text,
    parse_data_url,
    tool_input_from_arguments,
)
from hyperstrate_providers.translate.stop_reasons import openai_finish_to_anthropic_stop
from hyperstrate_providers.usage import usage_from_openai, usage_to_anthropic
from hyperstrate_providers.wire import WireObject

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "REASONING_EFFORT_BUDGETS",
    "openai_request_to_anthropic",
    "openai_response_to_anthropic",
]

DEFAULT_MAX_TOKENS = 4096
REASONING_EFFORT_BUDGETS = {"low": 1024, "medium": 4096, "high": 16384}
_PASSTHROUGH_FIELDS = ("top_k", "thinking")


def openai_request_to_anthropic(
    request: WireObject[openai.ChatCompletionRequest] | openai.ChatCompletionRequest,
    *,
    model: str | None = None,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> anthropic.MessagesRequest:
    """Translate a chat completions request into a Messages request for ``model``."""
    if isinstance(request, WireObject):
        typed, extra = request.typed, request.extra_fields
    else:
        typed, extra = request, {}
    _reject_unsupported(typed)
    system_blocks: list[anthropic.TextBlock] = []
    turns: list[anthropic.Message] = []
    for message in typed.messages:
        if message.role in ("system", "developer"):
            system_blocks.extend(_system_blocks(message.content))
        elif message.role == "user":
            _append_turn(turns, "user", _user_blocks(message.content))
        elif message.role == "assistant":
            _append_turn(turns, "assistant", _assistant_blocks(message))
        elif message.role == "tool":
            _append_turn(turns, "user", [_tool_result_block(message)])
        else:
            raise TranslationError(f"message role {message.role!r} is not supported")
    instruction = _response_format_instruction(typed.response_format)
    if instruction:
        system_blocks.append(anthropic.TextBlock(text=instruction))

    max_tokens = typed.output_token_limit or default_max_tokens
    temperature = None if typed.temperature is None else min(typed.temperature, 1.0)
    thinking: anthropic.ThinkingConfig | None = None
    budget = REASONING_EFFORT_BUDGETS.get(typed.reasoning_effort or "")
    if budget is not None:
        thinking = anthropic.ThinkingEnabled(budget_tokens=budget)
        if max_tokens <= budget:
            max_tokens += budget
        temperature = None
    translated = anthropic.MessagesRequest(
        model=model or typed.model,
        messages=[_collapse_text(turn) for turn in turns],
        max_tokens=max_tokens,
        system=_system_value(system_blocks),
        stop_sequences=typed.stop_sequences or None,
        stream=True if typed.stream else None,
        temperature=temperature,
        top_p=typed.top_p,
        tools=[_tool(tool) for tool in typed.tools] if typed.tools else None,
        tool_choice=_tool_choice(typed.tool_choice, typed.parallel_tool_calls, typed.tools),
        metadata=anthropic.Metadata(user_id=typed.user) if typed.user else None,
        thinking=thinking,
    )
    passthrough = {name: extra[name] for name in _PASSTHROUGH_FIELDS if name in extra}
    if passthrough:
        merged = msgspec.to_builtins(translated)
        merged.update(passthrough)
        translated = msgspec.convert(merged, anthropic.MessagesRequest)
    return translated


def _reject_unsupported(request: openai.ChatCompletionRequest) -> None:
    if request.n is not None and request.n > 1:
        raise TranslationError("n > 1 is not supported by Anthropic models")
    if request.logprobs:
        raise TranslationError("logprobs are not supported by Anthropic models")


def _append_turn(
    turns: list[anthropic.Message], role: str, blocks: list[anthropic.ContentBlock]
) -> None:
    if turns and turns[-1].role == role and isinstance(turns[-1].content, list):
        turns[-1].content.extend(blocks)
    else:
        turns.append(anthropic.Message(role=role, content=list(blocks)))


def _collapse_text(turn: anthropic.Message) -> anthropic.Message:
    """A turn made of one plain text block is written as a string, as clients usually do."""
    content = turn.content
    if (
        isinstance(content, list)
        and len(content) == 1
        and isinstance(content[0], anthropic.TextBlock)
        and content[0].cache_control is None
    ):
        return anthropic.Message(role=turn.role, content=content[0].text)
    return turn


def _cache_control(value: dict[str, Any] | None) -> anthropic.CacheControl | None:
    if value is None:
        return None
    return msgspec.convert(value, anthropic.CacheControl)


def _system_blocks(
    content: str | list[openai.ContentPart] | None,
) -> list[anthropic.TextBlock]:
    if content is None:
        return []
    if isinstance(content, str):
        return [anthropic.TextBlock(text=content)]
    return [
        anthropic.TextBlock(text=part.text, cache_control=_cache_control(part.cache_control))
        for part in content
        if isinstance(part, openai.TextPart)
    ]


def _system_value(
    blocks: list[anthropic.TextBlock],
) -> str | list[anthropic.TextBlock] | None:
    if not blocks:
        return None
    if all(block.cache_control is None for block in blocks):
        return "\n\n".join(block.text for block in blocks)
    return blocks


def _user_blocks(
    content: str | list[openai.ContentPart] | None,
) -> list[anthropic.ContentBlock]:
    if content is None:
        return []
    if isinstance(content, str):
        return [anthropic.TextBlock(text=content)]
    return [_user_block(part) for part in content]


def _user_block(part: openai.ContentPart) -> anthropic.ContentBlock:
    if isinstance(part, openai.TextPart):
        return anthropic.TextBlock(text=part.text, cache_control=_cache_control(part.cache_control))
    if isinstance(part, openai.ImageUrlPart):
        inline = parse_data_url(part.image_url.url)
        if inline is None:
            return anthropic.ImageBlock(source=anthropic.UrlImageSource(url=part.image_url.url))
        media_type, data = inline
        return anthropic.ImageBlock(
            source=anthropic.Base64ImageSource(media_type=media_type, data=data)
        )
    if isinstance(part, openai.FilePart):
        return _document_block(part.file)
    if isinstance(part, openai.RefusalPart):
        return anthropic.TextBlock(text=part.refusal)
    raise TranslationError("audio input is not supported by Anthropic models")


def _document_block(file: openai.FileData) -> anthropic.DocumentBlock:
    if file.file_data is None:
        raise TranslationError("files by file_id are not supported by Anthropic models")
    inline = parse_data_url(file.file_data)
    if inline is None:
        return anthropic.DocumentBlock(
            source=anthropic.UrlDocumentSource(url=file.file_data), title=file.filename
        )
    media_type, data = inline
    source: anthropic.DocumentSource
    if media_type.startswith("text/"):
        source = anthropic.PlainTextDocumentSource(
            data=decode_base64_text(data), media_type="text/plain"
        )
    else:
        source = anthropic.Base64DocumentSource(media_type=media_type, data=data)
    return anthropic.DocumentBlock(source=source, title=file.filename)


def _assistant_blocks(message: openai.ChatMessage) -> list[anthropic.ContentBlock]:
    blocks: list[anthropic.ContentBlock] = []
    if isinstance(message.content, str):
        if message.content:
            blocks.append(anthropic.TextBlock(text=message.content))
    elif message.content is not None:
        for part in message.content:
            if isinstance(part, openai.TextPart) and part.text:
                blocks.append(anthropic.TextBlock(text=part.text))
            elif isinstance(part, openai.RefusalPart):
                blocks.append(anthropic.TextBlock(text=part.refusal))
    for call in message.tool_calls or ():
        blocks.append(
            anthropic.ToolUseBlock(
                id=call.id,
                name=call.function.name,
                input=tool_input_from_arguments(call.function.arguments),
            )
        )
    return blocks


def _tool_result_block(message: openai.ChatMessage) -> anthropic.ToolResultBlock:
    content: str | list[anthropic.TextBlock | anthropic.ImageBlock]
    if message.content is None or isinstance(message.content, str):
        content = message.content or ""
    else:
        content = [
            anthropic.TextBlock(text=part.text)
            for part in message.content
            if isinstance(part, openai.TextPart)
        ]
    return anthropic.ToolResultBlock(tool_use_id=message.tool_call_id or "", content=content)


def _tool(tool: openai.Tool) -> anthropic.Tool:
    if tool.type != "function":
        raise TranslationError(f"tool type {tool.type!r} is not supported by Anthropic models")
    schema = tool.function.parameters or {"type": "object", "properties": {}}
    return anthropic.Tool(
        name=tool.function.name, description=tool.function.description, input_schema=schema
    )


def _tool_choice(
    choice: openai.ToolChoice | None,
    parallel_tool_calls: bool | None,
    tools: list[openai.Tool] | None,
) -> anthropic.ToolChoice | None:
    disable_parallel = True if parallel_tool_calls is False else None
    if isinstance(choice, openai.ToolChoiceFunction):
        return anthropic.ToolChoiceTool(
            name=choice.function.name, disable_parallel_tool_use=disable_parallel
        )
    if choice == "none":
        return anthropic.ToolChoiceNone()
    if choice == "required":
        return anthropic.ToolChoiceAny(disable_parallel_tool_use=disable_parallel)
    if choice == "auto" or (disable_parallel and tools):
        return anthropic.ToolChoiceAuto(disable_parallel_tool_use=disable_parallel)
    return None


def _response_format_instruction(response_format: openai.ResponseFormat | None) -> str:
    if isinstance(response_format, openai.ResponseFormatJsonObject):
        return "Respond with a single JSON object and nothing else."
    if isinstance(response_format, openai.ResponseFormatJsonSchema):
        schema = msgspec.json.encode(response_format.json_schema.schema or {}).decode()
        return (
            "Respond with a single JSON object and nothing else. It must conform to this "
            f"JSON Schema: {schema}"
        )
    return ""


def openai_response_to_anthropic(completion: openai.ChatCompletion) -> anthropic.MessagesResponse:
    """Translate a complete chat completion (its first choice) into a Messages response."""
    blocks: list[anthropic.ContentBlock] = []
    stop_reason = "end_turn"
    if completion.choices:
        choice = completion.choices[0]
        message = choice.message
        if message.reasoning_content:
            blocks.append(anthropic.ThinkingBlock(thinking=message.reasoning_content, signature=""))
        if message.content:
            blocks.append(anthropic.TextBlock(text=message.content))
        elif message.refusal:
            blocks.append(anthropic.TextBlock(text=message.refusal))
        for call in message.tool_calls or ():
            blocks.append(
                anthropic.ToolUseBlock(
                    id=call.id,
                    name=call.function.name,
                    input=tool_input_from_arguments(call.function.arguments),
                )
            )
        stop_reason = openai_finish_to_anthropic_stop(choice.finish_reason)
    usage = anthropic.Usage()
    if completion.usage is not None:
        usage = usage_to_anthropic(usage_from_openai(completion.usage))
    return anthropic.MessagesResponse(
        id=completion.id,
        model=completion.model,
        content=blocks,
        stop_reason=stop_reason,
        usage=usage,
    )
