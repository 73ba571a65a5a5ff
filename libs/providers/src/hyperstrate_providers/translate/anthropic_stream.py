"""Anthropic Messages stream events -> OpenAI chat completion chunks, incrementally.

Feed each decoded event to :meth:`AnthropicStreamToOpenAI.feed`; it returns the chunks to send
(often none). Text deltas become ``delta.content``, thinking deltas ``delta.reasoning_content``,
a ``tool_use`` block start becomes a tool-call delta with its id and name, and every
``input_json_delta`` fragment becomes an argument fragment of that tool call, in order and
unchanged, so the client's concatenation is exactly the tool input JSON. ``message_delta``
yields the finish reason; ``message_stop`` yields the usage chunk (no choices), as OpenAI's
``stream_options.include_usage`` does. Call :meth:`finish` at the end of the byte stream: it
raises :class:`IncompleteStreamError` if ``message_stop`` never came.
"""

from __future__ import annotations

import time

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import IncompleteStreamError, UpstreamStreamError
from hyperstrate_providers.translate.common import arguments_from_tool_input
from hyperstrate_providers.translate.stop_reasons import anthropic_stop_to_openai_finish
from hyperstrate_providers.usage import TokenUsage, usage_from_anthropic, usage_to_openai

__all__ = ["AnthropicStreamToOpenAI"]


class AnthropicStreamToOpenAI:
    """Stateful translator of one Anthropic stream into OpenAI chunks."""

    def __init__(
        self, *, include_usage: bool = True, created: int | None = None, model: str | None = None
    ) -> None:
        """``include_usage`` emits the final usage chunk; ``model`` overrides the reported one."""
        self._include_usage = include_usage
        self._created = int(time.time()) if created is None else created
        self._model = model
        self._id = ""
        self._input_usage = anthropic.Usage()
        self._output_tokens = 0
        self._tool_positions: dict[int, int] = {}
        self._finish_reason: str | None = None
        self._complete = False

    @property
    def complete(self) -> bool:
        """Whether ``message_stop`` was received."""
        return self._complete

    @property
    def usage(self) -> TokenUsage | None:
        """Usage reported so far (None before ``message_start``)."""
        if not self._id:
            return None
        return usage_from_anthropic(
            anthropic.Usage(
                input_tokens=self._input_usage.input_tokens,
                output_tokens=self._output_tokens,
                cache_creation_input_tokens=self._input_usage.cache_creation_input_tokens,
                cache_read_input_tokens=self._input_usage.cache_read_input_tokens,
            )
        )

    def feed(self, event: anthropic.StreamEvent) -> list[openai.ChatCompletionChunk]:
        """Translate one event; raise :class:`UpstreamStreamError` on an ``error`` event."""
        if isinstance(event, anthropic.ContentBlockDeltaEvent):
            return self._on_delta(event)
        if isinstance(event, anthropic.ContentBlockStartEvent):
            return self._on_block_start(event)
        if isinstance(event, anthropic.MessageStartEvent):
            message = event.message
            self._id = message.id
            self._model = self._model or message.model
            self._input_usage = message.usage
            self._output_tokens = message.usage.output_tokens
            return [self._chunk(openai.Delta(role="assistant", content=""))]
        if isinstance(event, anthropic.MessageDeltaEvent):
            return self._on_message_delta(event)
        if isinstance(event, anthropic.MessageStopEvent):
            self._complete = True
            if not self._include_usage:
                return []
            usage = self.usage
            if usage is None:
                return []
            return [self._usage_chunk(usage)]
        if isinstance(event, anthropic.ErrorEvent):
            raise UpstreamStreamError(event.error.type, event.error.message)
        return []

    def finish(self) -> list[openai.ChatCompletionChunk]:
        """End of input: raise :class:`IncompleteStreamError` unless the stream completed."""
        if not self._complete:
            raise IncompleteStreamError("the Anthropic stream ended before message_stop")
        return []

    def _on_block_start(
        self, event: anthropic.ContentBlockStartEvent
    ) -> list[openai.ChatCompletionChunk]:
        block = event.content_block
        if isinstance(block, anthropic.TextBlock) and block.text:
            return [self._chunk(openai.Delta(content=block.text))]
        if isinstance(block, anthropic.ThinkingBlock) and block.thinking:
            return [self._chunk(openai.Delta(reasoning_content=block.thinking))]
        if isinstance(block, anthropic.ToolUseBlock):
            position = len(self._tool_positions)
            self._tool_positions[event.index] = position
            arguments = arguments_from_tool_input(block.input) if block.input else ""
            call = openai.ToolCallDelta(
                index=position,
                id=block.id,
                type="function",
                function=openai.FunctionCallDelta(name=block.name, arguments=arguments),
            )
            return [self._chunk(openai.Delta(tool_calls=[call]))]
        return []

    def _on_delta(
        self, event: anthropic.ContentBlockDeltaEvent
    ) -> list[openai.ChatCompletionChunk]:
        delta = event.delta
        if isinstance(delta, anthropic.TextDelta):
            return [self._chunk(openai.Delta(content=delta.text))]
        if isinstance(delta, anthropic.InputJsonDelta):
            position = self._tool_positions.get(event.index)
            if position is None or not delta.partial_json:
                return []
            call = openai.ToolCallDelta(
                index=position, function=openai.FunctionCallDelta(arguments=delta.partial_json)
            )
            return [self._chunk(openai.Delta(tool_calls=[call]))]
        if isinstance(delta, anthropic.ThinkingDelta):
            return [self._chunk(openai.Delta(reasoning_content=delta.thinking))]
        return []

    def _on_message_delta(
        self, event: anthropic.MessageDeltaEvent
    ) -> list[openai.ChatCompletionChunk]:
        usage = event.usage
        self._output_tokens = usage.output_tokens
        if usage.input_tokens is not None:
            self._input_usage = anthropic.Usage(
                input_tokens=usage.input_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens
                if usage.cache_creation_input_tokens is not None
                else self._input_usage.cache_creation_input_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens
                if usage.cache_read_input_tokens is not None
                else self._input_usage.cache_read_input_tokens,
            )
        if event.delta.stop_reason is None:
            return []
        self._finish_reason = anthropic_stop_to_openai_finish(event.delta.stop_reason)
        return [self._chunk(openai.Delta(), finish_reason=self._finish_reason)]

    def _chunk(
        self, delta: openai.Delta, finish_reason: str | None = None
    ) -> openai.ChatCompletionChunk:
        return openai.ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model or "",
            choices=[openai.ChunkChoice(index=0, delta=delta, finish_reason=finish_reason)],
        )

    def _usage_chunk(self, usage: TokenUsage) -> openai.ChatCompletionChunk:
        return openai.ChatCompletionChunk(
            id=self._id,
            created=self._created,
            model=self._model or "",
            choices=[],
            usage=usage_to_openai(usage),
        )
