"""Stop reasons between OpenAI ``finish_reason``, Anthropic ``stop_reason`` and Gemini
``finishReason``."""

from __future__ import annotations

__all__ = [
    "anthropic_stop_to_openai_finish",
    "gemini_finish_to_openai_finish",
    "openai_finish_to_anthropic_stop",
]

_ANTHROPIC_TO_OPENAI = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_OPENAI_TO_ANTHROPIC = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

_GEMINI_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


def anthropic_stop_to_openai_finish(stop_reason: str | None) -> str:
    """end_turn/stop_sequence -> stop, max_tokens -> length, tool_use -> tool_calls,
    refusal -> content_filter; anything unknown -> stop."""
    return _ANTHROPIC_TO_OPENAI.get(stop_reason or "", "stop")


def openai_finish_to_anthropic_stop(
    finish_reason: str | None, stop_sequence: str | None = None
) -> str:
    """stop -> end_turn (stop_sequence when the matched sequence is known), length ->
    max_tokens, tool_calls -> tool_use, content_filter -> refusal."""
    if finish_reason == "stop" and stop_sequence:
        return "stop_sequence"
    return _OPENAI_TO_ANTHROPIC.get(finish_reason or "", "end_turn")


def gemini_finish_to_openai_finish(finish_reason: str | None, *, called_tools: bool) -> str:
    """STOP -> stop (tool_calls when the turn called functions), MAX_TOKENS -> length,
    safety-like reasons -> content_filter, other reasons -> stop."""
    if finish_reason == "MAX_TOKENS":
        return "length"
    if finish_reason in _GEMINI_FILTERED:
        return "content_filter"
    return "tool_calls" if called_tools else "stop"
