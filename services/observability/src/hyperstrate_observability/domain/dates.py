"""Date-range query parameters: ISO 8601 dates or date-times, never silently ignored."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from hyperstrate_contracts.budgets import period_start
from hyperstrate_kit.errors import InvalidInputError

__all__ = ["BudgetPeriod", "DateRange", "day_range", "parse_instant", "spend_range", "time_range"]

BudgetPeriod = Literal["daily", "weekly", "monthly", "all"]

_HINT = "must be an ISO 8601 date (2026-01-31) or date-time (2026-01-31T12:00:00Z)"


def parse_instant(name: str, text: str, *, end_of_day: bool = False) -> datetime:
    """A query parameter as an aware UTC datetime.

    A bare date means the start of that day, or with `end_of_day` the start of the next
    one (so `to=2026-01-31` includes the whole 31st). A date-time without an offset is UTC.
    Anything else is a 400 naming the parameter.
    """
    value = text.strip()
    try:
        if len(value) == 10:  # YYYY-MM-DD
            day = date.fromisoformat(value)
            start = datetime.combine(day, time.min, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise InvalidInputError(f"invalid date: {name}", {name: [_HINT]}) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class DateRange:
    """A half-open interval [start, end) of instants; either side may be open."""

    __slots__ = ("end", "start")

    def __init__(self, start: datetime | None, end: datetime | None) -> None:
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"DateRange({self.start!r}, {self.end!r})"


def time_range(from_text: str | None, to_text: str | None) -> DateRange:
    """`from` (inclusive) and `to` (inclusive; a bare date covers its whole day)."""
    start = parse_instant("from", from_text) if from_text else None
    end = None
    if to_text:
        end = parse_instant("to", to_text, end_of_day=True)
        if len(to_text.strip()) != 10:
            end += timedelta(microseconds=1)  # an exact instant is included too
    if start is not None and end is not None and start >= end:
        raise InvalidInputError("invalid date range", {"from": ["must be before `to`"]})
    return DateRange(start, end)


def day_range(
    from_text: str | None, to_text: str | None, *, today: date, default_days: int = 30
) -> tuple[date, date]:
    """Whole UTC days, both inclusive; by default the last `default_days` days to today."""
    last = parse_instant("to", to_text).date() if to_text else today
    first = (
        parse_instant("from", from_text).date()
        if from_text
        else last - timedelta(days=default_days - 1)
    )
    if first > last:
        raise InvalidInputError("invalid date range", {"from": ["must not be after `to`"]})
    return first, last


def spend_range(
    period: BudgetPeriod | None, from_text: str | None, to_text: str | None, *, today: date
) -> tuple[date, date]:
    """The days of a spend query: a cap's current period (as the router's ledger counts it:
    `period`), or `from`/`to` (the last 30 days by default)."""
    if period is None:
        return day_range(from_text, to_text, today=today)
    if from_text or to_text:
        raise InvalidInputError("invalid input: period", {"period": ["give period or from/to"]})
    start = period_start(None if period == "all" else period, datetime.combine(today, time(), UTC))
    return (start.date() if start else date(1970, 1, 1)), today
