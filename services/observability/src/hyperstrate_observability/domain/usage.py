"""Usage and cost: the dimensions reports group by, and the daily roll-up. Pure Python."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

__all__ = ["ROLLUP_DIMENSIONS", "Dimension", "LoggedInference", "RollupKey", "Totals", "roll_up"]


class Dimension(StrEnum):
    """What a usage report groups by (the `groupBy` query parameter)."""

    DAY = "day"
    MODEL = "model"
    PROVIDER = "provider"
    ROUTER = "router"
    API_KEY = "apiKey"
    VIRTUAL_KEY = "virtualKey"
    TEAM = "team"

    @property
    def column(self) -> str:
        """The roll-up column holding this dimension."""
        return _COLUMNS[self]


_COLUMNS = {
    Dimension.DAY: "day",
    Dimension.MODEL: "model",
    Dimension.PROVIDER: "provider",
    Dimension.ROUTER: "router_id",
    Dimension.API_KEY: "api_key_id",
    Dimension.VIRTUAL_KEY: "virtual_key_id",
    Dimension.TEAM: "team_id",
}

#: The roll-up's key columns after org and day ("" stands for "none").
ROLLUP_DIMENSIONS = ("router_id", "provider", "model", "api_key_id", "virtual_key_id", "team_id")


@dataclass(frozen=True, slots=True)
class LoggedInference:
    """The facts of one newly logged inference that usage adds up."""

    org_id: str
    occurred_at: datetime
    failed: bool
    billed: bool  # counts against caps (see `hyperstrate_contracts.budgets.is_billed`)
    router_id: str | None
    provider: str
    model: str
    api_key_id: str | None
    virtual_key_id: str | None
    team_id: str | None
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal
    latency_ms: float
    cache_hit: bool


@dataclass(frozen=True, slots=True, order=True)
class RollupKey:
    org_id: str
    day: date
    router_id: str
    provider: str
    model: str
    api_key_id: str
    virtual_key_id: str
    team_id: str


@dataclass(slots=True)
class Totals:
    requests: int = 0
    failed_requests: int = 0
    billed_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)
    cache_hits: int = 0
    latency_ms_sum: float = 0.0

    def add(self, item: LoggedInference) -> None:
        self.requests += 1
        self.failed_requests += int(item.failed)
        self.billed_requests += int(item.billed)
        self.input_tokens += item.input_tokens
        self.output_tokens += item.output_tokens
        self.cached_input_tokens += item.cached_input_tokens
        self.reasoning_tokens += item.reasoning_tokens
        self.cost_usd += item.cost_usd
        self.cache_hits += int(item.cache_hit)
        self.latency_ms_sum += item.latency_ms


def roll_up(items: Iterable[LoggedInference]) -> list[tuple[RollupKey, Totals]]:
    """Daily totals per (org, day, router, provider, model, key, virtual key, team), sorted by
    key, so concurrent writers lock roll-up rows in the same order (no deadlocks)."""
    totals: dict[RollupKey, Totals] = {}
    for item in items:
        key = RollupKey(
            org_id=item.org_id,
            day=item.occurred_at.astimezone(UTC).date(),
            router_id=item.router_id or "",
            provider=item.provider,
            model=item.model,
            api_key_id=item.api_key_id or "",
            virtual_key_id=item.virtual_key_id or "",
            team_id=item.team_id or "",
        )
        totals.setdefault(key, Totals()).add(item)
    return sorted(totals.items())
