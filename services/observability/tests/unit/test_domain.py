"""Observability rules without I/O: dates, signatures, backoff, health verdicts, roll-ups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from hyperstrate_kit.errors import InvalidInputError
from hyperstrate_observability.domain.dates import day_range, parse_instant, time_range
from hyperstrate_observability.domain.health import HealthState, ProbeResult, next_state
from hyperstrate_observability.domain.usage import Dimension, LoggedInference, roll_up
from hyperstrate_observability.domain.webhooks import (
    backoff_delay,
    new_webhook_secret,
    sign,
    signature_header,
    verify_signature,
)


def test_dates_are_iso_8601_in_utc_and_bad_ones_name_the_parameter() -> None:
    assert parse_instant("from", "2026-01-31") == datetime(2026, 1, 31, tzinfo=UTC)
    assert parse_instant("to", "2026-01-31", end_of_day=True) == datetime(2026, 2, 1, tzinfo=UTC)
    assert parse_instant("from", "2026-01-31T10:00:00+02:00") == datetime(
        2026, 1, 31, 8, tzinfo=UTC
    )
    assert parse_instant("from", "2026-01-31T10:00:00") == datetime(2026, 1, 31, 10, tzinfo=UTC)
    assert parse_instant("from", "2026-01-31T10:00:00Z").tzinfo == UTC
    for text in ("31/01/2026", "2026-02-30", "", "now", "2026-01-31T25:00"):
        with pytest.raises(InvalidInputError) as raised:
            parse_instant("from", text)
        assert list(raised.value.fields) == ["from"]


def test_time_range_includes_the_whole_last_day_and_refuses_reversed_ranges() -> None:
    whole = time_range("2026-01-01", "2026-01-02")
    assert whole.start == datetime(2026, 1, 1, tzinfo=UTC)
    assert whole.end == datetime(2026, 1, 3, tzinfo=UTC)
    exact = time_range(None, "2026-01-02T00:00:00Z")
    assert exact.start is None and exact.end is not None
    assert exact.end > datetime(2026, 1, 2, tzinfo=UTC)  # the instant itself is included
    with pytest.raises(InvalidInputError):
        time_range("2026-01-03", "2026-01-02")


def test_day_range_defaults_to_the_last_30_days() -> None:
    today = date(2026, 3, 31)
    assert day_range(None, None, today=today) == (date(2026, 3, 2), today)
    assert day_range("2026-03-01T23:00:00-05:00", None, today=today)[0] == date(2026, 3, 2)
    with pytest.raises(InvalidInputError):
        day_range("2026-04-01", "2026-03-01", today=today)


def test_signatures_are_hmac_sha256_over_timestamp_and_body() -> None:
    secret = new_webhook_secret()
    assert secret.startswith("whsec_") and len(secret) > 40
    body = b'{"type":"inference.completed"}'
    header = signature_header(secret, 1_700_000_000, body)
    assert header == f"t=1700000000,v1={sign(secret, 1_700_000_000, body)}"
    assert verify_signature(secret, header, body, now=1_700_000_100)
    assert not verify_signature(secret, header, body + b" ", now=1_700_000_100)
    assert not verify_signature("whsec_other", header, body, now=1_700_000_100)
    assert not verify_signature(secret, header, body, now=1_700_001_000)  # too old: a replay
    assert not verify_signature(secret, "garbage", body, now=1_700_000_000)


def test_backoff_uses_each_delay_then_repeats_the_last() -> None:
    delays = (1.0, 5.0, 30.0)
    assert [backoff_delay(n, delays) for n in (1, 2, 3, 4, 10)] == [1.0, 5.0, 30.0, 30.0, 30.0]


def test_health_turns_unhealthy_after_the_threshold_and_back_after_one_success() -> None:
    fail, ok = ProbeResult(ok=False, error="down"), ProbeResult(ok=True, latency_ms=3.0)
    state, news = next_state(None, ok, 2)
    assert state == HealthState(True, 0) and news  # a first verdict
    state, news = next_state(None, fail, 2)
    assert state.healthy and state.consecutive_failures == 1 and not news  # not yet
    state, news = next_state(state, fail, 2)
    assert not state.healthy and state.reason == "down" and news
    state, news = next_state(state, fail, 2)
    assert not state.healthy and state.consecutive_failures == 3 and not news
    state, news = next_state(state, ok, 2)
    assert state.healthy and news
    state, news = next_state(None, fail, 1)
    assert not state.healthy and news


def test_roll_up_sums_per_day_and_dimensions_in_key_order() -> None:
    def item(day: int, model: str, cost: str, failed: bool = False) -> LoggedInference:
        return LoggedInference(
            org_id="o",
            occurred_at=datetime(2026, 1, day, 23, 30, tzinfo=timezone(timedelta(hours=-2))),
            failed=failed,
            billed=not failed,
            router_id=None,
            provider="openai",
            model=model,
            api_key_id="k",
            virtual_key_id=None,
            team_id=None,
            input_tokens=10,
            output_tokens=1,
            cached_input_tokens=0,
            reasoning_tokens=0,
            cost_usd=Decimal(cost),
            latency_ms=100.0,
            cache_hit=False,
        )

    rows = roll_up([item(1, "b", "0.1"), item(1, "a", "0.2"), item(1, "b", "0.3", failed=True)])
    assert [(key.day, key.model, key.router_id) for key, _ in rows] == [
        (date(2026, 1, 2), "a", ""),  # 23:30 at UTC-2 is the next day in UTC
        (date(2026, 1, 2), "b", ""),
    ]
    totals = rows[1][1]
    assert (totals.requests, totals.failed_requests, totals.cost_usd) == (2, 1, Decimal("0.4"))
    assert Dimension("virtualKey").column == "virtual_key_id"
