"""What the fake upstream answers, independent of the wire format: text or a tool call, the
pieces a stream sends, the finish reason and the token counts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hyperstrate_providers.fake_upstream.script import FakeScript
from hyperstrate_providers.usage import estimate_tokens

__all__ = ["TOOL_ARGUMENT_PIECE_CHARS", "Answer", "compose_answer", "default_reply_tokens"]

TOOL_ARGUMENT_PIECE_CHARS = 8
_REPLY_WORDS = (
    *("This", "is", "a", "deterministic", "reply", "from", "the", "fake", "upstream,"),
    *("written", "for", "tests,", "demos", "and", "benchmarks", "of", "the", "gateway."),
)
_TOKEN_PATTERN = re.compile(r"\s*\S+|\s+$")


def default_reply_tokens(count: int) -> list[str]:
    """The first ``count`` tokens of the deterministic reply (words, cycling, space-led)."""
    words = [_REPLY_WORDS[i % len(_REPLY_WORDS)] for i in range(count)]
    return [words[0], *(" " + word for word in words[1:])] if words else []


def split_tokens(text: str) -> list[str]:
    """Split text into word-like tokens that concatenate back to exactly ``text``."""
    return _TOKEN_PATTERN.findall(text) or ([text] if text else [])


@dataclass(frozen=True, slots=True)
class Answer:
    """A reply in provider-neutral terms; ``finish_reason`` uses OpenAI's vocabulary."""

    text_pieces: list[str]
    tool_name: str | None
    tool_arguments: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    report_usage: bool

    @property
    def text(self) -> str:
        """The whole content text."""
        return "".join(self.text_pieces)

    @property
    def tool_argument_pieces(self) -> list[str]:
        """The tool arguments cut into fixed-size fragments (splitting JSON tokens on purpose)."""
        arguments = self.tool_arguments
        size = TOOL_ARGUMENT_PIECE_CHARS
        return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def compose_answer(
    script: FakeScript,
    *,
    last_user_text: str,
    prompt_tokens: int,
    max_output_tokens: int | None,
) -> Answer:
    """The answer a script asks for, cut to ``max_output_tokens`` (finish ``length``)."""
    finish_reason = "stop"
    if script.tool_name is not None:
        pieces: list[str] = []
        finish_reason = "tool_calls"
        completion_tokens = estimate_tokens(script.tool_name + script.tool_arguments)
    else:
        if script.json_content is not None:
            pieces = split_tokens(script.json_content)
        elif script.echo:
            pieces = split_tokens(last_user_text)
        else:
            pieces = default_reply_tokens(script.tokens)
        if max_output_tokens is not None and len(pieces) > max_output_tokens:
            pieces = pieces[:max_output_tokens]
            finish_reason = "length"
        completion_tokens = len(pieces)
    return Answer(
        text_pieces=pieces,
        tool_name=script.tool_name,
        tool_arguments=script.tool_arguments,
        finish_reason=script.finish_reason or finish_reason,
        prompt_tokens=max(prompt_tokens, script.cached_tokens),
        completion_tokens=completion_tokens + script.reasoning_tokens,
        cached_tokens=script.cached_tokens,
        reasoning_tokens=script.reasoning_tokens,
        report_usage=script.report_usage,
    )
