"""OpenAI chat completion chunks -> Anthropic Messages stream events, incrementally.

For clients that speak Anthropic to an OpenAI-compatible upstream. The first chunk opens the
message (``message_start``, with input tokens 0: OpenAI reports usage only at the end);
``delta.reasoning_content``, ``delta.content`` and each tool call open a thinking, text or
``tool_use`` block in turn (the previous block is stopped first), and tool argument fragments
become ``input_json_delta`` events unchanged. :meth:`OpenAIStreamToAnthropic.finish`, called at
``[DONE]``, stops the open block and sends ``message_delta`` (stop reason and the full usage,
input tokens included) and ``message_stop``. Only choice 0 is translated.
"""

from __future__ import annotations

from hyperstrate_providers import anthropic_types as anthropic
from hyperstrate_providers import openai_types as openai
from hyperstrate_providers.errors import IncompleteStreamError
from hyperstrate_providers.translate.stop_reasons import openai_finish_to_anthropic_stop
from hyperstrate_providers.usage import TokenUsage, usage_from_openai

__all__ = ["OpenAIStreamToAnthropic"]

_TEXT = "text"
_THINKING = "thinking"
_TOOL = "tool"


class OpenAIStreamToAnthropic:
    """Stateful translator of one OpenAI chunk stream into Anthropic stream events."""

    def __init__(self, *, model: str | None = None) -> None:
        """``model`` overrides the model name reported by the chunks."""
        self._model = model
        self._started = False
        self._next_index = 0
        self._open_index: int | None = None
        self._open_kind = ""
        self._tool_blocks: dict[int, int] = {}
        self._finish_reason: str | None = None
        self._usage: TokenUsage | None = None

    @property
    def usage(self) -> TokenUsage | None:
        """The usage of the final chunk, once seen."""
        return self._usage

    def feed(self, chunk: openai.ChatCompletionChunk) -> list[anthropic.StreamEvent]:
        """Translate one chunk into zero or more events."""
        events: list[anthropic.StreamEvent] = []
        if not self._started:
            self._started = True
            events.append(self._message_start(chunk))
        if chunk.usage is not None:
            self._usage = usage_from_openai(chunk.usage)
        for choice in chunk.choices:
            if choice.index != 0:
                continue
            self._on_delta(choice.delta, events)
            if choice.finish_reason is not None:
                self._finish_reason = choice.finish_reason
                self._stop_open_block(events)
        return events

    def finish(self) -> list[anthropic.StreamEvent]:
        """End of the chunk stream: close the message; raise :class:`IncompleteStreamError` if
        no finish reason was received."""
        if self._finish_reason is None:
            raise IncompleteStreamError("the OpenAI stream ended without a finish_reason")
        events: list[anthropic.StreamEvent] = []
        self._stop_open_block(events)
        usage = self._usage or TokenUsage(input_tokens=0, output_tokens=0)
        events.append(
            anthropic.MessageDeltaEvent(
                delta=anthropic.MessageDelta(
                    stop_reason=openai_finish_to_anthropic_stop(self._finish_reason)
                ),
                usage=anthropic.MessageDeltaUsage(
                    output_tokens=usage.output_tokens,
                    input_tokens=usage.input_tokens
                    - usage.cached_input_tokens
                    - usage.cache_creation_input_tokens,
                    cache_read_input_tokens=usage.cached_input_tokens or None,
                    cache_creation_input_tokens=usage.cache_creation_input_tokens or None,
                ),
            )
        )
        events.append(anthropic.MessageStopEvent())
        return events

    def _message_start(self, chunk: openai.ChatCompletionChunk) -> anthropic.StreamEvent:
        return anthropic.MessageStartEvent(
            message=anthropic.MessagesResponse(
                id=chunk.id, model=self._model or chunk.model, content=[]
            )
        )

    def _on_delta(self, delta: openai.Delta, events: list[anthropic.StreamEvent]) -> None:
        if delta.reasoning_content:
            self._ensure_block(
                _THINKING, anthropic.ThinkingBlock(thinking="", signature=""), events
            )
            events.append(
                anthropic.ContentBlockDeltaEvent(
                    index=self._current_index(),
                    delta=anthropic.ThinkingDelta(thinking=delta.reasoning_content),
                )
            )
        if delta.content:
            self._ensure_block(_TEXT, anthropic.TextBlock(text=""), events)
            events.append(
                anthropic.ContentBlockDeltaEvent(
                    index=self._current_index(), delta=anthropic.TextDelta(text=delta.content)
                )
            )
        for call in delta.tool_calls or ():
            self._on_tool_call(call, events)

    def _on_tool_call(
        self, call: openai.ToolCallDelta, events: list[anthropic.StreamEvent]
    ) -> None:
        function = call.function or openai.FunctionCallDelta()
        index = self._tool_blocks.get(call.index)
        if index is None:
            block = anthropic.ToolUseBlock(
                id=call.id or f"toolu_{call.index}", name=function.name or "", input={}
            )
            self._stop_open_block(events)
            index = self._start_block(_TOOL, block, events)
            self._tool_blocks[call.index] = index
        if function.arguments:
            events.append(
                anthropic.ContentBlockDeltaEvent(
                    index=index,
                    delta=anthropic.InputJsonDelta(partial_json=function.arguments),
                )
            )

    def _ensure_block(
        self, kind: str, block: anthropic.ContentBlock, events: list[anthropic.StreamEvent]
    ) -> None:
        if self._open_index is not None and self._open_kind == kind:
            return
        self._stop_open_block(events)
        self._start_block(kind, block, events)

    def _start_block(
        self, kind: str, block: anthropic.ContentBlock, events: list[anthropic.StreamEvent]
    ) -> int:
        index = self._next_index
        self._next_index += 1
        self._open_index = index
        self._open_kind = kind
        events.append(anthropic.ContentBlockStartEvent(index=index, content_block=block))
        return index

    def _current_index(self) -> int:
        assert self._open_index is not None
        return self._open_index

    def _stop_open_block(self, events: list[anthropic.StreamEvent]) -> None:
        if self._open_index is None:
            return
        events.append(anthropic.ContentBlockStopEvent(index=self._open_index))
        self._open_index = None
        self._open_kind = ""
