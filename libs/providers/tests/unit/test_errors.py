"""Error classes, retryability, retry-after parsing and secret redaction."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from hyperstrate_providers.adapters import (
    AnthropicAdapter,
    ProviderConfig,
    ProviderKind,
)
from hyperstrate_providers.errors import (
    MAX_RETRY_AFTER_SECONDS,
    ErrorClass,
    ProviderError,
    classify_status,
    error_message_from_body,
    parse_retry_after,
    redact,
)
from hyperstrate_providers.openai_types import decode_chat_request

SECRET = "sk-live-0123456789abcdef"


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [
        (429, ErrorClass.RATE_LIMITED, True),
        (500, ErrorClass.SERVER_ERROR, True),
        (502, ErrorClass.SERVER_ERROR, True),
        (503, ErrorClass.SERVER_ERROR, True),
        (529, ErrorClass.SERVER_ERROR, True),
        (408, ErrorClass.TIMEOUT, True),
        (400, ErrorClass.BAD_REQUEST, False),
        (404, ErrorClass.BAD_REQUEST, False),
        (422, ErrorClass.BAD_REQUEST, False),
        (401, ErrorClass.AUTH, False),
        (403, ErrorClass.AUTH, False),
    ],
)
def test_status_classification(status: int, error_class: ErrorClass, retryable: bool) -> None:
    assert classify_status(status) is error_class
    assert error_class.retryable is retryable


def test_timeouts_and_connection_failures_are_retryable() -> None:
    assert ErrorClass.TIMEOUT.retryable
    assert ErrorClass.CONNECTION.retryable


def test_provider_error_redacts_secrets_everywhere() -> None:
    error = ProviderError(
        ErrorClass.AUTH,
        f"Incorrect API key provided: {SECRET}. Header was Bearer {SECRET}",
        provider="openai",
        status_code=401,
        secrets=[SECRET, ""],
    )

    rendered = [str(error), repr(error), error.message, "".join(traceback.format_exception(error))]
    assert all(SECRET not in text for text in rendered)
    assert "[REDACTED]" in str(error)
    assert str(error).startswith("openai auth 401: ")


def test_redact_ignores_too_short_secrets() -> None:
    assert redact("abc key", ["abc", ""]) == "abc key"
    assert redact("token=abcd", ["abcd"]) == "token=[REDACTED]"


def test_long_messages_are_shortened() -> None:
    error = ProviderError(ErrorClass.SERVER_ERROR, "x" * 2000, provider="p")

    assert len(error.message) == 503


def test_config_and_call_reprs_hide_credentials() -> None:
    config = ProviderConfig(
        kind=ProviderKind.ANTHROPIC,
        model="claude",
        api_key=SECRET,
        extra_headers={"anthropic-beta": "beta-token-secret"},
    )
    call = AnthropicAdapter().build_call(
        config,
        decode_chat_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'),
        stream=False,
    )

    assert call.headers["x-api-key"] == SECRET
    for text in (repr(config), str(config), repr(call)):
        assert SECRET not in text
        assert "beta-token-secret" not in text
    assert "anthropic-beta" in repr(config)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"error":{"message":"Rate limited","type":"rate_limit"}}', "Rate limited"),
        (
            b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            "Overloaded",
        ),
        (
            b'{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}',
            "Quota exceeded",
        ),
        (b'{"error":"plain string"}', "plain string"),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
    ],
)
def test_error_message_from_each_provider_shape(body: bytes, message: str) -> None:
    assert error_message_from_body(body) == message


def test_retry_after_in_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = parse_retry_after({"retry-after": later})
    assert waited is not None and 20 < waited <= 30
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": earlier}) == 0.0


def test_retry_after_is_capped_in_every_form() -> None:
    next_year = format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)
    for headers in (
        {"retry-after": "999999999999"},
        {"retry-after": "1e300"},
        {"retry-after-ms": "999999999999999"},
        {"retry-after": next_year},
    ):
        assert parse_retry_after(headers) == MAX_RETRY_AFTER_SECONDS == 60.0, headers
    assert parse_retry_after({"retry-after": "999999999999"}, max_seconds=5) == 5.0
    assert parse_retry_after({"retry-after": "3"}, max_seconds=5) == 3.0


@pytest.mark.parametrize(
    "headers",
    [
        {"retry-after": "-5"},
        {"retry-after": "nan"},
        {"retry-after": "inf"},
        {"retry-after": "1e400"},
        {"retry-after": "Mon, 99 Foo 2026 99:99:99 GMT"},
        {"retry-after": "\x00\x01"},
        {"retry-after-ms": "soon"},
        {"retry-after-ms": "-1"},
        {"retry-after-ms": "NaN", "retry-after": "later"},
    ],
)
def test_garbage_retry_after_is_dropped(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers) is None


def test_a_garbage_retry_after_ms_leaves_the_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "4"}) == 4.0
