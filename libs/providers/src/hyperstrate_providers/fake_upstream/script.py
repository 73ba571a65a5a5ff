"""The fake upstream's per-request script: what to answer and how to misbehave.

A script is ``directive;directive;...`` where a directive is ``key`` or ``key=value``; values
are percent-decoded, so ``;`` inside a value is written ``%3B``. It comes from the
``x-fake-script`` header or, when there is no header, from the model name: everything after
the first ``;`` (``fake-gpt;latency=200;fail=429``). On the Azure route the deployment name in
the URL plays the model name's part. The header wins.

=================  ==========================================================================
``latency=MS``     wait MS milliseconds before answering (before the first byte)
``chunk_latency``  ``=MS``: wait MS milliseconds between stream events
``fail=STATUS``    answer with this HTTP error (400, 401, 403, 404, 429, 500, 503...) in the
                   provider's error shape; a 401 echoes the credential it was given, as
                   OpenAI's does (to test redaction)
``retry_after=S``  the ``retry-after`` seconds of a 429 or 503 (default 1)
``timeout``        never answer; hang until the client gives up and disconnects
``break=K``        streams: send K events, then close the connection mid-stream;
                   non-streaming: close the connection without answering
``cut=K``          streams: send K events, then end the HTTP response cleanly, without the
                   stream's terminal event (``[DONE]``, ``message_stop``, finish reason)
``tool=NAME``      call tool NAME (streamed as argument fragments of 8 characters)
``args=JSON``      the tool call's JSON arguments (default ``{}``)
``json=JSON``      answer with this JSON text as the content
``echo``           answer with the text of the last user message
``tokens=N``       length of the default deterministic answer, in tokens (default 16); a
                   stream sends one content event per token
``finish=REASON``  OpenAI finish reason to report: stop, length, content_filter, tool_calls
``usage=off``      report no usage (to exercise local token counting)
``cached=N``       report N cached prompt tokens
``reasoning=N``    report N reasoning tokens (added to the completion tokens)
=================  ==========================================================================

Unknown keys and malformed values are rejected with a 400, so a typo never goes unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

__all__ = ["FakeScript", "ScriptError", "parse_script", "script_from"]

DEFAULT_TOKENS = 16
_FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls"})


class ScriptError(ValueError):
    """The script does not follow the grammar."""


@dataclass(frozen=True, slots=True)
class FakeScript:
    """A parsed script (see the module docstring for the meaning of each field)."""

    latency_ms: int = 0
    chunk_latency_ms: int = 0
    fail_status: int | None = None
    retry_after_s: int = 1
    hang: bool = False
    break_after: int | None = None
    cut_after: int | None = None
    tool_name: str | None = None
    tool_arguments: str = "{}"
    json_content: str | None = None
    echo: bool = False
    tokens: int = DEFAULT_TOKENS
    finish_reason: str | None = None
    report_usage: bool = True
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def needs_task(self) -> bool:
        """Whether answering involves waiting (latency or hanging)."""
        return self.hang or self.latency_ms > 0 or self.chunk_latency_ms > 0


def _int(key: str, value: str | None, *, minimum: int = 0) -> int:
    try:
        number = int(value or "")
    except ValueError:
        raise ScriptError(f"{key} needs an integer, got {value!r}") from None
    if number < minimum:
        raise ScriptError(f"{key} must be at least {minimum}")
    return number


@lru_cache(maxsize=1024)
def parse_script(text: str) -> FakeScript:
    """Parse a script (cached: scripts repeat across requests)."""
    fields: dict[str, Any] = {}
    for directive in text.split(";"):
        directive = directive.strip()
        if not directive:
            continue
        key, has_value, raw_value = directive.partition("=")
        key = key.strip().lower()
        value = unquote(raw_value) if has_value else None
        if key == "latency":
            fields["latency_ms"] = _int(key, value)
        elif key == "chunk_latency":
            fields["chunk_latency_ms"] = _int(key, value)
        elif key == "fail":
            fields["fail_status"] = _int(key, value, minimum=400)
        elif key == "retry_after":
            fields["retry_after_s"] = _int(key, value)
        elif key in ("timeout", "hang"):
            fields["hang"] = True
        elif key == "break":
            fields["break_after"] = _int(key, value or "0")
        elif key == "cut":
            fields["cut_after"] = _int(key, value or "0")
        elif key == "tool":
            if not value:
                raise ScriptError("tool needs a name")
            fields["tool_name"] = value
        elif key == "args":
            fields["tool_arguments"] = value or "{}"
        elif key == "json":
            fields["json_content"] = value or "{}"
        elif key == "echo":
            fields["echo"] = True
        elif key == "tokens":
            fields["tokens"] = _int(key, value, minimum=1)
        elif key == "finish":
            if value not in _FINISH_REASONS:
                raise ScriptError(f"finish must be one of {sorted(_FINISH_REASONS)}")
            fields["finish_reason"] = value
        elif key == "usage":
            fields["report_usage"] = value not in ("off", "0", "false", "no")
        elif key == "cached":
            fields["cached_tokens"] = _int(key, value)
        elif key == "reasoning":
            fields["reasoning_tokens"] = _int(key, value)
        else:
            raise ScriptError(f"unknown fake-script directive {key!r}")
    return FakeScript(**fields)


def script_from(header: str | None, model: str) -> FakeScript:
    """The script of a request: the header if present, else the model name after ``;``."""
    if header is not None:
        return parse_script(header)
    _, _, text = model.partition(";")
    return parse_script(text)
