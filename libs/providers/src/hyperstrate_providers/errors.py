"""Upstream failures, classified so a router can decide to retry, fall back or give up.

Error texts are built from provider responses and transport exceptions, which can echo
credentials (OpenAI's 401 repeats the key it was given). Every :class:`ProviderError` is
therefore built through :func:`redact` with the secrets of the call, and chains no exception
(``__cause__`` is left empty) so no traceback carries an unredacted text.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable, Mapping
from datetime import UTC
from enum import StrEnum
from typing import Any

import msgspec

__all__ = [
    "MAX_RETRY_AFTER_SECONDS",
    "ErrorClass",
    "IncompleteStreamError",
    "ProviderError",
    "TranslationError",
    "UpstreamStreamError",
    "classify_status",
    "error_message_from_body",
    "parse_retry_after",
    "redact",
]

REDACTED = "[REDACTED]"
MAX_MESSAGE_CHARS = 500
_MIN_SECRET_CHARS = 4
#: The longest upstream Retry-After kept (seconds), unless the caller sets another.
MAX_RETRY_AFTER_SECONDS = 60.0


class ErrorClass(StrEnum):
    """What kind of failure an upstream call had."""

    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    BAD_REQUEST = "bad_request"
    AUTH = "auth"
    CONNECTION = "connection"

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed if tried again (here or on another target)."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {ErrorClass.RATE_LIMITED, ErrorClass.SERVER_ERROR, ErrorClass.TIMEOUT, ErrorClass.CONNECTION}
)


def classify_status(status_code: int) -> ErrorClass:
    """Map an HTTP error status to its class: 429, 5xx, 408, 401/403, other 4xx."""
    if status_code == 429:
        return ErrorClass.RATE_LIMITED
    if status_code in (401, 403):
        return ErrorClass.AUTH
    if status_code == 408:
        return ErrorClass.TIMEOUT
    if status_code >= 500:
        return ErrorClass.SERVER_ERROR
    return ErrorClass.BAD_REQUEST


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (4 characters or longer) by ``[REDACTED]``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    return text


class ProviderError(Exception):
    """An upstream call failed. The message never contains the call's secrets."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retry_after: float | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        """Build the error; ``message`` is redacted with ``secrets`` and shortened."""
        safe = redact(message, secrets)
        if len(safe) > MAX_MESSAGE_CHARS:
            safe = safe[:MAX_MESSAGE_CHARS] + "..."
        super().__init__(safe)
        self.error_class = error_class
        self.message = safe
        self.provider = provider
        self.status_code = status_code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether retrying may succeed (see :attr:`ErrorClass.retryable`)."""
        return self.error_class.retryable

    def __str__(self) -> str:
        status = f" {self.status_code}" if self.status_code is not None else ""
        return f"{self.provider} {self.error_class.value}{status}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.error_class.value!r}, {self.message!r}, "
            f"provider={self.provider!r}, status_code={self.status_code!r}, "
            f"retry_after={self.retry_after!r})"
        )


class TranslationError(ValueError):
    """A request uses a feature the target provider cannot express (a client error)."""


class IncompleteStreamError(Exception):
    """A stream ended before its terminal event (``[DONE]``, ``message_stop``, finish reason)."""


class UpstreamStreamError(Exception):
    """The provider reported an error inside a stream (Anthropic's ``error`` event)."""

    def __init__(self, error_type: str, message: str) -> None:
        """Keep the provider's error ``type`` (e.g. ``overloaded_error``) and message."""
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


def error_message_from_body(body: bytes) -> str:
    """The human message of an OpenAI, Anthropic or Gemini error body, else the body text."""
    try:
        decoded: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body.decode("utf-8", "replace").strip()
    if isinstance(decoded, dict):
        error = decoded.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if isinstance(decoded.get("message"), str):
            return str(decoded["message"])
    return body.decode("utf-8", "replace").strip()


def parse_retry_after(
    headers: Mapping[str, str], max_seconds: float = MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date),
    at most ``max_seconds``: an upstream's header is passed on to clients and waited out by
    retries, so ``retry-after: 999999999999`` must not stall them. A value that is not a
    finite, non-negative number or a date is dropped (None when neither header has one)."""
    milliseconds = _seconds(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return min(milliseconds / 1000, max_seconds)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _seconds(value)
    if seconds is None:
        seconds = _seconds_until(value)
    return None if seconds is None else min(seconds, max_seconds)


def _seconds(value: str | None) -> float | None:
    """A finite, non-negative number (None for anything else)."""
    try:
        number = float(value or "")
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _seconds_until(value: str) -> float | None:
    """The seconds until an HTTP date (0 when it is past; None when it is not a date)."""
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - time.time())
