"""Login throttling decisions and the client address it counts, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from ipaddress import ip_network

import pytest

from hyperstrate_auth.api.client_address import forwarded_client
from hyperstrate_auth.domain.throttle import (
    FailureCount,
    ThrottlePolicy,
    after_failure,
    retry_after_seconds,
)
from hyperstrate_auth.settings import AuthSettings
from hyperstrate_kit.settings import SettingsError, load_settings

POLICY = ThrottlePolicy(
    free_failures=5,
    lock_after_failures=20,
    backoff_seconds=1.0,
    backoff_max_seconds=60.0,
    lock_seconds=900.0,
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _failures(n: int, spacing: timedelta = timedelta(seconds=0)) -> FailureCount | None:
    count = None
    for i in range(n):
        count = after_failure(count, NOW + i * spacing, POLICY)
    return count


def test_five_failures_are_free_then_the_wait_doubles_up_to_its_cap_then_locks() -> None:
    waits = [POLICY.delay_after(n) for n in range(1, 22)]
    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5:12] == [1, 2, 4, 8, 16, 32, 60]  # failures 6..12
    assert waits[12:19] == [60] * 7  # capped until the lock
    assert waits[19:] == [900, 900]  # the 20th failure locks for 15 minutes


def test_a_blocked_subject_waits_until_its_block_ends() -> None:
    count = _failures(6)
    assert count is not None and count.failures == 6
    assert retry_after_seconds(count, NOW) == 1.0
    assert retry_after_seconds(count, NOW + timedelta(seconds=1)) == 0.0
    assert retry_after_seconds(_failures(5), NOW) == 0.0
    locked = _failures(20)
    assert retry_after_seconds(locked, NOW + timedelta(minutes=5)) == 600.0


def test_failures_are_forgotten_after_a_quiet_lock_period() -> None:
    count = _failures(19)
    later = after_failure(count, NOW + timedelta(seconds=900), POLICY)
    assert later.failures == 1 and later.blocked_until is None


TRUSTED = [ip_network("127.0.0.1/32"), ip_network("10.0.0.0/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # an untrusted peer's header: ignored
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),  # the gateway vouches for it
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the client's own hop: no
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # behind two proxies
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two headers, in order
        ("127.0.0.1", ["not-an-address"], "127.0.0.1"),  # unreadable: the last good hop
        ("127.0.0.1", ["10.0.0.1, 10.0.0.2"], "10.0.0.1"),  # all trusted: the first
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert forwarded_client(peer, forwarded, TRUSTED) == client


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOGIN_LOCK_AFTER_FAILURES", "3"),  # not more than the 5 free ones
        ("LOGIN_ADDRESS_FREE_FAILURES", "-1"),
        ("LOGIN_BACKOFF_SECONDS", "0"),
        ("LOGIN_LOCK_SECONDS", "10"),  # shorter than the longest back-off
        ("TRUSTED_PROXIES", "gateway.local"),
    ],
)
def test_invalid_throttle_settings_name_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(AuthSettings, environ={variable: value})
