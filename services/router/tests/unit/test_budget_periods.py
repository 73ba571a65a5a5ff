"""Budget periods: the key a moment falls in and when that period ends (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hyperstrate_router.application.inference.limits import period_end, period_key


@pytest.mark.parametrize(
    ("reset_period", "moment", "key", "end"),
    [
        ("daily", datetime(2026, 1, 31, 23, 59, tzinfo=UTC), "2026-01-31", datetime(2026, 2, 1)),
        ("weekly", datetime(2026, 12, 31, 8, tzinfo=UTC), "2026-W53", datetime(2027, 1, 4)),
        ("weekly", datetime(2026, 3, 2, 0, tzinfo=UTC), "2026-W10", datetime(2026, 3, 9)),
        ("monthly", datetime(2026, 12, 15, tzinfo=UTC), "2026-12", datetime(2027, 1, 1)),
        ("monthly", datetime(2026, 1, 31, tzinfo=UTC), "2026-01", datetime(2026, 2, 1)),
        (None, datetime(2026, 5, 5, tzinfo=UTC), "all", None),
    ],
)
def test_a_period_ends_where_the_next_key_begins(
    reset_period: str | None, moment: datetime, key: str, end: datetime | None
) -> None:
    assert period_key(reset_period, moment) == key
    ends = period_end(reset_period, moment)
    assert ends == (None if end is None else end.replace(tzinfo=UTC))
    if ends is not None:
        assert period_key(reset_period, ends) != key
        assert period_key(reset_period, ends - timedelta(microseconds=1)) == key
