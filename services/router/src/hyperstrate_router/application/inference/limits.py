"""Rate limits and budgets for the pipeline, in memory (one replica).

Both sit behind small ports; `infrastructure.inference.redis_backends` implements them on
Redis for several replicas. Budgets
are reserved before the call and settled after it, so concurrent callers cannot overspend a
cap by more than what is in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "BudgetCap",
    "BudgetExceeded",
    "BudgetLedger",
    "MemoryBudgetLedger",
    "MemoryRateLimiter",
    "RateLimiter",
    "Reservation",
    "period_end",
    "period_key",
]


class RateLimiter(Protocol):
    """Admits or refuses one request for a key."""

    async def acquire(self, key: str, rate_per_second: float, burst: float) -> float:
        """0 when admitted, else the seconds to wait before retrying."""
        ...


class MemoryRateLimiter:
    """Token buckets per key."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)

    async def acquire(self, key: str, rate_per_second: float, burst: float) -> float:
        """Take one token, or say how long until one is there."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate_per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / rate_per_second


def period_key(reset_period: str | None, now: datetime | None = None) -> str:
    """The budget period a moment falls in: the day, the ISO week, the month, or ever."""
    moment = now or datetime.now(UTC)
    if reset_period == "daily":
        return moment.strftime("%Y-%m-%d")
    if reset_period == "weekly":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if reset_period == "monthly":
        return moment.strftime("%Y-%m")
    return "all"


def period_end(reset_period: str | None, now: datetime | None = None) -> datetime | None:
    """When the budget period a moment falls in ends (UTC); None for a period without end."""
    moment = now or datetime.now(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if reset_period == "daily":
        return midnight + timedelta(days=1)
    if reset_period == "weekly":  # ISO weeks start on Monday
        return midnight + timedelta(days=7 - moment.weekday())
    if reset_period == "monthly":
        first = midnight.replace(day=1)
        return (first + timedelta(days=32)).replace(day=1)
    return None


@dataclass(frozen=True, slots=True)
class BudgetCap:
    """A cap on one subject (router, virtual key or team)."""

    subject: str  # e.g. "vk:vk_123"
    max_requests: int | None
    max_cost_usd: float | None
    reset_period: str | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """What was reserved, to settle or release."""

    entries: tuple[tuple[str, float], ...]  # (ledger key, reserved cost)


class BudgetExceeded(Exception):
    """A cap would be passed; `subject` says whose."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject)
        self.subject = subject


class BudgetLedger(Protocol):
    """Reserve-then-settle spending against caps."""

    async def reserve(self, caps: list[BudgetCap], estimated_cost: float) -> Reservation:
        """Reserve one request and its estimated cost under every cap, all or none."""
        ...

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        """Replace the estimate with the real cost (the request stays counted)."""
        ...

    async def release(self, reservation: Reservation) -> None:
        """Undo a reservation (the call never reached a provider)."""
        ...


@dataclass(slots=True)
class _Usage:
    requests: int = 0
    cost: float = 0.0


class MemoryBudgetLedger:
    """The ledger in this process. Each operation runs without awaiting, so it is atomic."""

    def __init__(self) -> None:
        self._usage: dict[str, _Usage] = {}

    async def reserve(self, caps: list[BudgetCap], estimated_cost: float) -> Reservation:
        """All caps checked first, then all reserved: no partial reservation survives."""
        keys = [(cap, f"{cap.subject}:{period_key(cap.reset_period)}") for cap in caps]
        for cap, key in keys:
            usage = self._usage.get(key, _Usage())
            if cap.max_requests is not None and usage.requests + 1 > cap.max_requests:
                raise BudgetExceeded(cap.subject)
            if cap.max_cost_usd is not None and usage.cost + estimated_cost > cap.max_cost_usd:
                raise BudgetExceeded(cap.subject)
        for _, key in keys:
            usage = self._usage.setdefault(key, _Usage())
            usage.requests += 1
            usage.cost += estimated_cost
        return Reservation(tuple((key, estimated_cost) for _, key in keys))

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        """Correct the cost by what the call really cost."""
        for key, reserved in reservation.entries:
            self._usage.setdefault(key, _Usage()).cost += actual_cost - reserved

    async def release(self, reservation: Reservation) -> None:
        """Give the request and its estimate back."""
        for key, reserved in reservation.entries:
            usage = self._usage.setdefault(key, _Usage())
            usage.requests -= 1
            usage.cost -= reserved

    def used(self, subject: str, reset_period: str | None = None) -> tuple[int, float]:
        """Requests and cost used in the current period (for tests and reporting)."""
        usage = self._usage.get(f"{subject}:{period_key(reset_period)}", _Usage())
        return usage.requests, usage.cost
