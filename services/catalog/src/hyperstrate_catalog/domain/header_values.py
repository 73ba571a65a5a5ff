"""Secrets the catalog sends as HTTP header values: provider API keys and MCP server headers.

A line break in one would start a header of the caller's choosing (header injection), and
any control character or non-ASCII character makes the HTTP client fail at call time, so
they are refused when the secret is given; spaces around it are trimmed, never sent.
"""

from __future__ import annotations

__all__ = ["HEADER_VALUE_RULE", "header_value"]

HEADER_VALUE_RULE = (
    "must be printable ASCII: no line breaks, tabs or other control characters "
    "(it is sent in an HTTP header)"
)


def header_value(value: str) -> str:
    """`value` with leading and trailing spaces trimmed; `ValueError(HEADER_VALUE_RULE)` when
    it holds a character a header value may not carry. The value is never in the error."""
    if any(not " " <= char <= "~" for char in value):
        raise ValueError(HEADER_VALUE_RULE)
    return value.strip(" ")
