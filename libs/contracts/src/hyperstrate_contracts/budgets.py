"""Budget periods and the spend question the router and auth ask observability.

A cap (a router's `budget`, a virtual key's `maxRequests`/`maxCostUsd`, a team's caps) counts
the requests that reached a model and their cost within its period: the UTC day, the ISO
week, the month, or for ever. The router enforces the caps in its ledger; observability
keeps the durable record. Both must agree on where a period starts and on what counts, so
the rules live here.

`svc.observability.budget_spend` answers what every cap subject (`router:<id>`, `vk:<id>`,
`team:<id>`) spent in each period up to a cutoff: the router rebuilds its ledger from it at
start-up (then follows the inference events after the cutoff), and auth shows team usage.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import msgspec

from hyperstrate_contracts.inference import InferenceCompleted, InferenceFailed

__all__ = [
    "BUDGET_PERIODS",
    "BUDGET_SPEND_SUBJECT",
    "BudgetSpend",
    "BudgetSpendRequest",
    "ResetPeriod",
    "SubjectSpend",
    "is_billed",
    "period_end",
    "period_key",
    "period_start",
    "spend_subjects",
]

ResetPeriod = Literal["daily", "weekly", "monthly"]
#: Every period a subject's spend is kept for (None: the cap never resets).
BUDGET_PERIODS: tuple[ResetPeriod | None, ...] = ("daily", "weekly", "monthly", None)

BUDGET_SPEND_SUBJECT = "svc.observability.budget_spend"


def period_key(reset_period: str | None, now: datetime | None = None) -> str:
    """The budget period a moment falls in: the day, the ISO week, the month, or ever."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    if reset_period == "daily":
        return moment.strftime("%Y-%m-%d")
    if reset_period == "weekly":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if reset_period == "monthly":
        return moment.strftime("%Y-%m")
    return "all"


def period_start(reset_period: str | None, now: datetime | None = None) -> datetime | None:
    """When the budget period a moment falls in began (UTC); None for a period without start."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if reset_period == "daily":
        return midnight
    if reset_period == "weekly":  # ISO weeks start on Monday
        return midnight - timedelta(days=moment.weekday())
    if reset_period == "monthly":
        return midnight.replace(day=1)
    return None


def period_end(reset_period: str | None, now: datetime | None = None) -> datetime | None:
    """When the budget period a moment falls in ends (UTC); None for a period without end."""
    start = period_start(reset_period, now)
    if start is None:
        return None
    if reset_period == "daily":
        return start + timedelta(days=1)
    if reset_period == "weekly":
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def is_billed(event: InferenceCompleted | InferenceFailed) -> bool:
    """True when an inference counts against caps: it answered (a cache hit and a stream the
    client cut included), or it failed after a model was called. Refusals never count."""
    return isinstance(event, InferenceCompleted) or event.target_id is not None


def spend_subjects(
    router_id: str | None, virtual_key_id: str | None, team_id: str | None
) -> list[str]:
    """The cap subjects an inference's spend belongs to."""
    subjects = []
    if router_id:
        subjects.append(f"router:{router_id}")
    if virtual_key_id:
        subjects.append(f"vk:{virtual_key_id}")
    if team_id:
        subjects.append(f"team:{team_id}")
    return subjects


class BudgetSpendRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What cap subjects spent in each period, counting inferences that occurred before
    `cutoff` (default: now). `subjects` narrows the answer (empty: every subject, which the
    router pages through with `after`); `org_id` limits it to one organisation."""

    cutoff: datetime | None = None
    org_id: str | None = None
    subjects: tuple[str, ...] = ()
    after: str = ""
    limit: int = 1000


class SubjectSpend(msgspec.Struct, frozen=True, kw_only=True):
    """One subject's billed requests and cost per period key (`period_key` at the cutoff:
    e.g. "2026-12-03", "2026-W49", "2026-12", "all")."""

    subject: str
    requests: dict[str, int]
    cost_usd: dict[str, float]


class BudgetSpend(msgspec.Struct, frozen=True, kw_only=True):
    """A page of subjects in subject order; `next_after` continues it (None: the last page)."""

    items: list[SubjectSpend]
    next_after: str | None = None
