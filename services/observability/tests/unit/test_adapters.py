"""Adapters without servers: query fallbacks, audit decoding, pinned webhook requests,
settings validation."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hyperstrate_contracts.metadata import Actor
from hyperstrate_kit.settings import SettingsError, load_settings
from hyperstrate_observability.api.controllers import DEFAULT_LIMIT, clamp_limit, clamp_offset
from hyperstrate_observability.infrastructure.audit import decode_audit_entry
from hyperstrate_observability.infrastructure.webhook_dispatcher import pinned_request
from hyperstrate_observability.settings import ObservabilitySettings


class _Msg:
    def __init__(self, subject: str, data: dict[str, Any], headers: dict[str, str] | None = None):
        self.subject = subject
        self.data = msgspec.json.encode(data)
        self.headers = headers


ENVELOPE = {
    "org_id": "o",
    "aggregate_id": "a",
    "event_id": "e",
    "occurred_at": "2026-01-01T00:00:00Z",
    "aggregate_version": 3,
    "version": 1,
}


def test_limit_and_offset_out_of_range_fall_back_to_defaults() -> None:
    assert [clamp_limit(v) for v in (None, 1, 500, 0, -1, 501)] == [
        None, 1, 500, DEFAULT_LIMIT, DEFAULT_LIMIT, DEFAULT_LIMIT,
    ]  # fmt: skip
    assert [clamp_offset(v) for v in (None, 0, 10, -1, 10**9)] == [None, 0, 10, 0, 0]


def test_audit_entries_keep_the_envelope_and_mask_secrets() -> None:
    entry = decode_audit_entry(
        _Msg(  # type: ignore[arg-type]
            "auth.api_key.created",
            {**ENVELOPE, "name": "ci", "key_hash": "abc", "nested": {"client_secret": "s"}},
            {"Hs-Actor-Kind": "user", "Hs-Actor-Id": "usr-1", "Hs-Request-Id": "r-1"},
        )
    )
    assert entry is not None
    assert (entry.type, entry.org_id, entry.aggregate_id, entry.actor) == (
        "auth.api_key.created", "o", "a", Actor(kind="user", id="usr-1"),
    )  # fmt: skip
    for headers in ({"Hs-Actor-Kind": "robot", "Hs-Actor-Id": "r"}, {"Hs-Actor-Kind": "user"}):
        unknown = decode_audit_entry(_Msg("auth.team.created", ENVELOPE, headers))  # type: ignore[arg-type]
        assert unknown is not None and unknown.actor is None  # unknown kinds are not guessed
    assert entry.data == {"name": "ci", "key_hash": "***", "nested": {"client_secret": "***"}}
    big = decode_audit_entry(_Msg("prompts.prompt.created", {**ENVELOPE, "text": "x" * 20_000}))  # type: ignore[arg-type]
    assert big is not None and big.data == {"truncated": True, "fields": ["text"]}
    assert decode_audit_entry(_Msg("catalog.job.completed", ENVELOPE)) is None  # type: ignore[arg-type]
    with pytest.raises(msgspec.ValidationError):
        decode_audit_entry(_Msg("auth.team.created", {"org_id": "o"}))  # type: ignore[arg-type]


def test_webhook_requests_connect_to_the_checked_address_with_the_original_host() -> None:
    url, headers, extensions = pinned_request(
        "https://hooks.example.com:8443/in?x=1", "93.184.216.34"
    )
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"Host": "hooks.example.com:8443"}
    assert extensions == {"sni_hostname": "hooks.example.com"}
    url, headers, extensions = pinned_request("http://hooks.example.com/in", "2001:db8::1")
    assert url == "http://[2001:db8::1]/in" and headers == {"Host": "hooks.example.com"}
    assert extensions == {}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOG_RETENTION_DAYS", "0"),
        ("HEALTH_CHECK_INTERVAL_SECS", "0"),
        ("LOG_BATCH_SIZE", "0"),
        ("LOG_BATCH_SIZE", "9000"),
        ("WEBHOOK_MAX_ATTEMPTS", "0"),
        ("WEBHOOK_BACKOFF_SECONDS", "-1"),
        ("CONSUMER_PREFIX", "bad prefix!"),
        ("SECRETS_KEY", "not-base64-32-bytes"),
    ],
)
def test_invalid_settings_name_the_variable(variable: str, value: str, tmp_path: Any) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(ObservabilitySettings, environ={variable: value}, env_dir=tmp_path)


def test_production_needs_a_secrets_key(tmp_path: Any) -> None:
    with pytest.raises(SettingsError, match="SECRETS_KEY"):
        load_settings(
            ObservabilitySettings,
            environ={"APP_ENV": "production", "JWT_SECRET": "x" * 40},
            env_dir=tmp_path,
        )
