"""What each cap subject spent per budget period, up to a cutoff: the answer the router
rebuilds its ledger from at start-up and auth shows as team usage.

Whole days before the cutoff's day come from the daily roll-up (kept beyond log retention:
a cap that never resets needs all of it); the cutoff's day comes from the logs, up to the
cutoff itself, so the router can count the inference events after it without counting one
twice. Budget periods all start at a UTC midnight, which makes the split exact.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts.budgets import (
    BUDGET_PERIODS,
    BudgetSpend,
    BudgetSpendRequest,
    SubjectSpend,
    period_key,
    period_start,
)

__all__ = ["budget_spend"]

_MAX_PAGE = 5000
_SUBJECTS = (("router", "router_id"), ("vk", "virtual_key_id"), ("team", "team_id"))
_ROLLUP_PART = (
    "SELECT org_id, '{prefix}:' || {column} AS subject, day, billed_requests AS billed, "
    "cost_usd AS cost FROM usage_daily WHERE {column} <> '' AND day < :cutoff_day"
)
_LOG_PART = (
    "SELECT org_id, '{prefix}:' || {column} AS subject, CAST(:cutoff_day AS date) AS day, "
    "CAST(status = 'completed' OR target_id IS NOT NULL AS int) AS billed, cost_usd AS cost "
    "FROM inference_logs WHERE {column} IS NOT NULL "
    "AND occurred_at >= :cutoff_day_start AND occurred_at < :cutoff"
)
_PERIOD_COLUMNS = ("daily", "weekly", "monthly", "ever")


def _statement(with_subjects: bool) -> Any:
    parts = [
        part.format(prefix=prefix, column=column)
        for prefix, column in _SUBJECTS
        for part in (_ROLLUP_PART, _LOG_PART)
    ]
    sums = []
    for name, period in zip(_PERIOD_COLUMNS, BUDGET_PERIODS, strict=True):
        where = "" if period is None else f" FILTER (WHERE day >= :{name}_start)"
        sums.append(f"COALESCE(sum(billed){where}, 0) AS {name}_requests")
        sums.append(f"COALESCE(sum(cost){where}, 0) AS {name}_cost")
    narrowed = " AND subject = ANY(CAST(:subjects AS text[]))" if with_subjects else ""
    return text(
        f"SELECT subject, {', '.join(sums)} FROM ({' UNION ALL '.join(parts)}) AS spend "
        "WHERE (CAST(:org_id AS text) IS NULL OR org_id = :org_id) "
        f"AND subject > :after{narrowed} GROUP BY subject ORDER BY subject LIMIT :limit"
    )


_ALL_SUBJECTS, _SOME_SUBJECTS = _statement(False), _statement(True)


async def budget_spend(session: AsyncSession, question: BudgetSpendRequest) -> BudgetSpend:
    """One page of subjects with their billed requests and cost per period key."""
    cutoff = (question.cutoff or datetime.now(UTC)).astimezone(UTC)
    day_start = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    limit = max(1, min(question.limit, _MAX_PAGE))
    params: dict[str, Any] = {
        "cutoff": cutoff,
        "cutoff_day": day_start.date(),
        "cutoff_day_start": day_start,
        "org_id": question.org_id,
        "after": question.after,
        "limit": limit,
    }
    for name, period in zip(_PERIOD_COLUMNS, BUDGET_PERIODS, strict=True):
        start = period_start(period, cutoff)
        if start is not None:
            params[f"{name}_start"] = start.date()
    statement = _ALL_SUBJECTS
    if question.subjects:
        statement, params["subjects"] = _SOME_SUBJECTS, list(question.subjects)
    rows = (await session.execute(statement, params)).mappings().all()
    keys = [period_key(period, cutoff) for period in BUDGET_PERIODS]
    items = [
        SubjectSpend(
            subject=row["subject"],
            requests={
                key: int(row[f"{name}_requests"])
                for key, name in zip(keys, _PERIOD_COLUMNS, strict=True)
            },
            cost_usd={
                key: float(row[f"{name}_cost"])
                for key, name in zip(keys, _PERIOD_COLUMNS, strict=True)
            },
        )
        for row in rows
    ]
    next_after = items[-1].subject if len(items) == limit else None
    return BudgetSpend(items=items, next_after=next_after)
