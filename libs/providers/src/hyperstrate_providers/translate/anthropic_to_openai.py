"""Anthropic Messages -> OpenAI Chat Completions: complete responses (for Anthropic upstreams)
and requests (for clients that speak Anthropic to the gateway, routed to any target).

Request mapping: ``system`` -> a system message; ``tool_result`` blocks -> ``tool`` messages
placed before the rest of their user turn; ``tool_use`` -> ``tool_calls`` (input as JSON
arguments); images -> ``image_url`` (base64 as a ``data:`` URL); base64 documents -> ``file``
parts, plain-text documents -> text parts; ``cache_control`` on text blocks is kept on the text
parts; ``tool_choice`` any -> required, tool -> a function, ``disable_parallel_tool_use`` ->
``parallel_tool_calls=false``; ``stop_sequences`` -> ``stop``; ``metadata.user_id`` -> ``user``;
a stream asks for the final usage chunk.

Not carried over: thinking blocks of earlier assistant turns (OpenAI-compatible APIs do not take
reasoning back), ``thinking`` and ``top_k`` (no OpenAI field), documents by URL and server tools
(these raise :class:`TranslationError`).
"""

from __future__ import annotations

import time

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import TranslationError
from hyperstrate_providers.translate.common import arguments_from_tool_input, data_url
from hyperstrate_providers.translate.stop_reasons import anthropic_stop_to_openai_finish
from hyperstrate_providers.usage import usage_from_anthropic, usage_to_openai

__all__ = ["anthropic_request_to_openai", "anthropic_response_to_openai"]


def anthropic_request_to_openai(
    request: anthropic.MessagesRequest,
) -> openai.ChatCompletionRequest:
    """Translate a Messages request into a chat completions request."""
    messages: list[openai.ChatMessage] = []
    if request.system:
        messages.append(_system_message(request.system))
    for turn in request.messages:
        if turn.role == "assistant":
            messages.append(_assistant_message(turn.content))
        elif turn.role == "user":
            messages.extend(_user_messages(turn.content))
        else:
            raise TranslationError(f"message role {turn.role!r} is not supported")
    disable_parallel = _disables_parallel(request.tool_choice)
    return openai.ChatCompletionRequest(
        model=request.model,
        messages=messages,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=request.stop_sequences or None,
        stream=True if request.stream else None,
        stream_options=openai.StreamOptions(include_usage=True) if request.stream else None,
        tools=[_tool(tool) for tool in request.tools] if request.tools else None,
        tool_choice=_tool_choice(request.tool_choice),
        parallel_tool_calls=False if disable_parallel else None,
        user=request.metadata.user_id if request.metadata else None,
    )


def _system_message(system: str | list[anthropic.TextBlock]) -> openai.ChatMessage:
    if isinstance(system, str):
        return openai.ChatMessage(role="system", content=system)
    if all(block.cache_control is None for block in system):
        return openai.ChatMessage(role="system", content=anthropic.system_text(system))
    return openai.ChatMessage(role="system", content=[_text_part(block) for block in system])


def _text_part(block: anthropic.TextBlock) -> openai.TextPart:
    cache_control = None
    if block.cache_control is not None:
        cache_control = {"type": block.cache_control.type}
        if block.cache_control.ttl is not None:
            cache_control["ttl"] = block.cache_control.ttl
    return openai.TextPart(text=block.text, cache_control=cache_control)


def _user_messages(content: str | list[anthropic.ContentBlock]) -> list[openai.ChatMessage]:
    if isinstance(content, str):
        return [openai.ChatMessage(role="user", content=content)]
    tool_messages: list[openai.ChatMessage] = []
    parts: list[openai.ContentPart] = []
    for block in content:
        if isinstance(block, anthropic.ToolResultBlock):
            tool_messages.append(_tool_message(block))
        elif isinstance(block, anthropic.TextBlock):
            parts.append(_text_part(block))
        elif isinstance(block, anthropic.ImageBlock):
            parts.append(_image_part(block.source))
        elif isinstance(block, anthropic.DocumentBlock):
            parts.append(_document_part(block))
        else:
            raise TranslationError(f"{type(block).__name__} is not allowed in a user turn")
    if not parts:
        return tool_messages
    user_content: str | list[openai.ContentPart] = parts
    if all(isinstance(p, openai.TextPart) and p.cache_control is None for p in parts):
        user_content = openai.message_text(parts)
    return [*tool_messages, openai.ChatMessage(role="user", content=user_content)]


def _image_part(source: anthropic.ImageSource) -> openai.ImageUrlPart:
    if isinstance(source, anthropic.Base64ImageSource):
        url = data_url(source.media_type, source.data)
    else:
        url = source.url
    return openai.ImageUrlPart(image_url=openai.ImageUrl(url=url))


def _document_part(block: anthropic.DocumentBlock) -> openai.ContentPart:
    source = block.source
    if isinstance(source, anthropic.PlainTextDocumentSource):
        return openai.TextPart(text=source.data)
    if isinstance(source, anthropic.Base64DocumentSource):
        return openai.FilePart(
            file=openai.FileData(
                file_data=data_url(source.media_type, source.data), filename=block.title
            )
        )
    raise TranslationError("documents by URL are not supported by OpenAI-compatible models")


def _tool_message(block: anthropic.ToolResultBlock) -> openai.ChatMessage:
    if block.content is None or isinstance(block.content, str):
        text = block.content or ""
    else:
        text = "".join(part.text for part in block.content if isinstance(part, anthropic.TextBlock))
    return openai.ChatMessage(role="tool", tool_call_id=block.tool_use_id, content=text)


def _assistant_message(content: str | list[anthropic.ContentBlock]) -> openai.ChatMessage:
    if isinstance(content, str):
        return openai.ChatMessage(role="assistant", content=content)
    texts: list[str] = []
    calls: list[openai.ToolCall] = []
    for block in content:
        if isinstance(block, anthropic.TextBlock):
            texts.append(block.text)
        elif isinstance(block, anthropic.ToolUseBlock):
            calls.append(_tool_call(block))
    return openai.ChatMessage(
        role="assistant", content="".join(texts) or None, tool_calls=calls or None
    )


def _tool_call(block: anthropic.ToolUseBlock) -> openai.ToolCall:
    return openai.ToolCall(
        id=block.id,
        function=openai.FunctionCall(
            name=block.name, arguments=arguments_from_tool_input(block.input)
        ),
    )


def _tool(tool: anthropic.Tool) -> openai.Tool:
    if tool.type not in (None, "custom"):
        raise TranslationError(f"server tool {tool.type!r} is not supported by OpenAI models")
    return openai.Tool(
        function=openai.FunctionDefinition(
            name=tool.name, description=tool.description, parameters=tool.input_schema
        )
    )


def _tool_choice(choice: anthropic.ToolChoice | None) -> openai.ToolChoice | None:
    if isinstance(choice, anthropic.ToolChoiceAuto):
        return "auto"
    if isinstance(choice, anthropic.ToolChoiceAny):
        return "required"
    if isinstance(choice, anthropic.ToolChoiceNone):
        return "none"
    if isinstance(choice, anthropic.ToolChoiceTool):
        return openai.ToolChoiceFunction(function=openai.ToolChoiceFunctionName(name=choice.name))
    return None


def _disables_parallel(choice: anthropic.ToolChoice | None) -> bool:
    if isinstance(choice, anthropic.ToolChoiceAuto | anthropic.ToolChoiceAny):
        return bool(choice.disable_parallel_tool_use)
    if isinstance(choice, anthropic.ToolChoiceTool):
        return bool(choice.disable_parallel_tool_use)
    return False


def anthropic_response_to_openai(
    response: anthropic.MessagesResponse, *, created: int | None = None
) -> openai.ChatCompletion:
    """Translate a Messages response into a chat completion with one choice."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[openai.ToolCall] = []
    for block in response.content:
        if isinstance(block, anthropic.TextBlock):
            texts.append(block.text)
        elif isinstance(block, anthropic.ThinkingBlock):
            thoughts.append(block.thinking)
        elif isinstance(block, anthropic.ToolUseBlock):
            calls.append(_tool_call(block))
    text = "".join(texts)
    message = openai.AssistantMessage(
        content=text if text or not calls else None,
        tool_calls=calls or None,
        reasoning_content="".join(thoughts) or None,
    )
    return openai.ChatCompletion(
        id=response.id,
        created=int(time.time()) if created is None else created,
        model=response.model,
        choices=[
            openai.Choice(
                index=0,
                message=message,
                finish_reason=anthropic_stop_to_openai_finish(response.stop_reason),
            )
        ],
        usage=usage_to_openai(usage_from_anthropic(response.usage)),
    )
