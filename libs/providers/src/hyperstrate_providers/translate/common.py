"""Helpers shared by the translators: data URLs and tool-call arguments."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from hyperstrate_providers.errors import TranslationError

__all__ = [
    "RAW_ARGUMENTS_KEY",
    "arguments_from_tool_input",
    "data_url",
    "decode_base64_text",
    "parse_data_url",
    "tool_input_from_arguments",
]

RAW_ARGUMENTS_KEY = "_raw_arguments"
"""Key under which tool-call arguments that are not a JSON object are kept."""

_encoder = msgspec.json.Encoder()


def parse_data_url(url: str) -> tuple[str, str] | None:
    """``data:<media type>;base64,<data>`` as ``(media_type, data)``; None for other URLs."""
    if not url.startswith("data:"):
        return None
    header, comma, data = url[len("data:") :].partition(",")
    if not comma or not header.endswith(";base64"):
        raise TranslationError("only base64 data URLs are supported")
    media_type = header[: -len(";base64")] or "application/octet-stream"
    return media_type, data


def data_url(media_type: str, data: str) -> str:
    """Build a base64 ``data:`` URL."""
    return f"data:{media_type};base64,{data}"


def decode_base64_text(data: str) -> str:
    """Decode base64 that holds UTF-8 text."""
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise TranslationError("a text document is not valid base64 UTF-8") from None


def tool_input_from_arguments(arguments: str) -> dict[str, Any]:
    """A tool call's JSON ``arguments`` text as an object.

    Empty text is ``{}``. Text that is not a JSON object (models do produce broken JSON) is kept
    whole under ``_raw_arguments`` rather than dropped or failing the call.
    """
    if not arguments.strip():
        return {}
    try:
        value = msgspec.json.decode(arguments)
    except msgspec.DecodeError:
        return {RAW_ARGUMENTS_KEY: arguments}
    if isinstance(value, dict):
        return value
    return {RAW_ARGUMENTS_KEY: arguments}


def arguments_from_tool_input(tool_input: dict[str, Any]) -> str:
    """A tool input object as compact JSON ``arguments`` (inverse of the function above)."""
    raw = tool_input.get(RAW_ARGUMENTS_KEY)
    if len(tool_input) == 1 and isinstance(raw, str):
        return raw
    return _encoder.encode(tool_input).decode()
