"""Rate limits and budgets for the pipeline, in memory (one replica).

Both sit behind small ports; `infrastructure.inference.redis_backends` implements them on
Redis for several replicas. Budgets
are reserved before the call and settled after it, so concurrent callers cannot overspend a
cap by more than what is in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hyperstrate_contracts.budgets import (
    BUDGET_PERIODS,
    SubjectSpend,
    is_billed,
    period_end,
    period_key,
    spend_subjects,
)
from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed

__all__ = [
    "BudgetCap",
    "BudgetExceeded",
    "BudgetLedger",
    "MemoryBudgetLedger",
    "MemoryRateLimiter",
    "RateLimiter",
    "Reservation",
    "nanos",
    "period_end",
    "period_key",
]

NANOS_PER_USD = 1_000_000_000
_OWN_REQUESTS_KEPT = 100_000


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
    request_id: str = ""


class BudgetExceeded(Exception):
    """A cap would be passed; `subject` says whose."""

    def __init__(self, subject: str) -> None:
        super().__init__(subject)
        self.subject = subject


class BudgetLedger(Protocol):
    """Reserve-then-settle spending against caps."""

    async def reserve(
        self, caps: list[BudgetCap], estimated_cost: float, request_id: str = ""
    ) -> Reservation:
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
    nanos: int = 0  # cost in nano-dollars: sums of tiny costs stay exact


def nanos(usd: float) -> int:
    """USD as integer nano-dollars."""
    return round(usd * NANOS_PER_USD)


class MemoryBudgetLedger:
    """The ledger in this process. Each operation runs without awaiting, so it is atomic.

    A subject's usage is kept for every period (day, week, month, ever), not only its cap's,
    so spend learnt from observability or from other replicas' events (which do not say
    which period a cap uses) lands where any cap will look.
    """

    def __init__(self) -> None:
        self._usage: dict[str, _Usage] = {}
        self._own: dict[str, None] = {}  # request ids this process reserved for, in order

    async def reserve(
        self, caps: list[BudgetCap], estimated_cost: float, request_id: str = ""
    ) -> Reservation:
        """All caps checked first, then all reserved: no partial reservation survives."""
        now = datetime.now(UTC)
        estimate = nanos(estimated_cost)
        keys = [(cap, f"{cap.subject}:{period_key(cap.reset_period, now)}") for cap in caps]
        for cap, key in keys:
            usage = self._usage.get(key, _Usage())
            if cap.max_requests is not None and usage.requests + 1 > cap.max_requests:
                raise BudgetExceeded(cap.subject)
            if cap.max_cost_usd is not None and usage.nanos + estimate > nanos(cap.max_cost_usd):
                raise BudgetExceeded(cap.subject)
        for _, key in keys:
            usage = self._usage.setdefault(key, _Usage())
            usage.requests += 1
            usage.nanos += estimate
        if request_id:
            self._own[request_id] = None
            if len(self._own) > _OWN_REQUESTS_KEPT:  # an event that never came back
                del self._own[next(iter(self._own))]
        return Reservation(tuple((key, estimated_cost) for _, key in keys), request_id)

    async def settle(self, reservation: Reservation, actual_cost: float) -> None:
        """Correct the cost by what the call really cost; count it in the other periods."""
        now = datetime.now(UTC)
        actual = nanos(actual_cost)
        for key, reserved in reservation.entries:
            self._usage.setdefault(key, _Usage()).nanos += actual - nanos(reserved)
            subject = key.rsplit(":", 1)[0]
            for period in BUDGET_PERIODS:
                other = f"{subject}:{period_key(period, now)}"
                if other != key:
                    self._add(other, 1, actual)

    async def release(self, reservation: Reservation) -> None:
        """Give the request and its estimate back."""
        self._own.pop(reservation.request_id, None)
        for key, reserved in reservation.entries:
            self._add(key, -1, -nanos(reserved))

    def restore(self, spend: SubjectSpend) -> None:
        """Add what observability recorded for a subject (at start-up, before serving)."""
        for period, requests in spend.requests.items():
            self._add(f"{spend.subject}:{period}", requests, 0)
        for period, cost in spend.cost_usd.items():
            self._add(f"{spend.subject}:{period}", 0, nanos(cost))

    def observe(self, event: InferenceCompleted | InferenceFailed) -> None:
        """Count an inference another replica (or this one, before a restart) billed."""
        if event.request_id in self._own:  # this process reserved and settled it already
            del self._own[event.request_id]
            return
        if not is_billed(event):
            return
        cost = nanos(event.cost_usd)
        for subject in spend_subjects(event.router_id, event.virtual_key_id, event.team_id):
            for period in BUDGET_PERIODS:
                self._add(f"{subject}:{period_key(period, event.occurred_at)}", 1, cost)

    def forget_past_periods(self, now: datetime | None = None) -> None:
        """Drop the usage of periods that have ended (nothing checks them any more)."""
        current = {period_key(period, now) for period in BUDGET_PERIODS}
        for key in [k for k in self._usage if k.rsplit(":", 1)[1] not in current]:
            del self._usage[key]

    def _add(self, key: str, requests: int, cost: int) -> None:
        usage = self._usage.setdefault(key, _Usage())
        usage.requests += requests
        usage.nanos += cost

    def used(self, subject: str, reset_period: str | None = None) -> tuple[int, float]:
        """Requests and cost used in the current period (for tests and reporting)."""
        usage = self._usage.get(f"{subject}:{period_key(reset_period)}", _Usage())
        return usage.requests, usage.nanos / NANOS_PER_USD
