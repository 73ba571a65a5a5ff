"""A service that cannot reach NATS gives up in bounded time (nats-py alone would try forever)
and says so without printing the credentials in NATS_URL."""

from __future__ import annotations

import logging

import pytest

from hyperstrate_kit import bus
from hyperstrate_kit.embedded import free_port
from hyperstrate_kit.service import _connect_with_retry


async def test_an_unreachable_nats_is_named_without_its_credentials(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus, "FIRST_CONNECT_TIMEOUT_SECS", 1.0)
    closed = free_port()
    url = f"nats://svc:s3cret-pass@127.0.0.1:{closed},nats://tok3n-value@127.0.0.1:{closed}"
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError) as refused:
        await _connect_with_retry(url, "test", timeout=0.5)
    said = str(refused.value) + caplog.text
    assert f"NATS_URL=nats://***@127.0.0.1:{closed}" in str(refused.value)
    assert "s3cret-pass" not in said and "tok3n-value" not in said and "svc:" not in said
