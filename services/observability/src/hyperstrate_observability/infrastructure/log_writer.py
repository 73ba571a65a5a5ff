"""Writes inference events in batches: logs, payloads, daily usage and webhook deliveries.

One call handles one batch in the caller's transaction, with a few set-based statements:
logs and payloads go in through `unnest` (one parameter per column, however many rows),
`ON CONFLICT (event_id) DO NOTHING` drops redelivered events, and only the rows that were
new are added to the usage roll-up and turned into webhook deliveries, so a redelivery can
never count twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_contracts import Event
from hyperstrate_contracts.budgets import is_billed
from hyperstrate_contracts.inference import (
    InferenceCompleted,
    InferenceFailed,
    InferencePayloadCaptured,
)
from hyperstrate_observability.domain.usage import LoggedInference, roll_up

__all__ = ["InferenceLogWriter", "NewLog", "WriteResult"]

_LOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "text"),
    ("org_id", "text"),
    ("status", "text"),
    ("source", "text"),
    ("request_id", "text"),
    ("trace_id", "text"),
    ("router_id", "text"),
    ("target_id", "text"),
    ("registration_id", "text"),
    ("provider", "text"),
    ("model", "text"),
    ("api_key_id", "text"),
    ("virtual_key_id", "text"),
    ("user_id", "text"),
    ("team_id", "text"),
    ("stream", "boolean"),
    ("input_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("cached_input_tokens", "bigint"),
    ("reasoning_tokens", "bigint"),
    ("cost_usd", "numeric"),
    ("latency_ms", "float8"),
    ("time_to_first_token_ms", "float8"),
    ("cache_hit", "boolean"),
    ("status_code", "integer"),
    ("error_class", "text"),
    ("error_message", "text"),
    ("occurred_at", "timestamptz"),
)


def _unnest_insert(table: str, columns: Sequence[tuple[str, str]], conflict: str) -> str:
    names = ", ".join(name for name, _ in columns)
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING event_id"
    )


_INSERT_LOGS = text(_unnest_insert("inference_logs", _LOG_COLUMNS, "event_id"))

_PAYLOAD_COLUMNS = (
    ("event_id", "text"),
    ("org_id", "text"),
    ("request_id", "text"),
    ("router_id", "text"),
    ("request_body", "text"),
    ("response_body", "text"),
    ("request_truncated", "boolean"),
    ("response_truncated", "boolean"),
    ("occurred_at", "timestamptz"),
)
_INSERT_PAYLOADS = text(_unnest_insert("inference_payloads", _PAYLOAD_COLUMNS, "event_id"))

_ROLLUP_COLUMNS = (
    ("org_id", "text"),
    ("day", "date"),
    ("router_id", "text"),
    ("provider", "text"),
    ("model", "text"),
    ("api_key_id", "text"),
    ("virtual_key_id", "text"),
    ("team_id", "text"),
    ("requests", "bigint"),
    ("failed_requests", "bigint"),
    ("billed_requests", "bigint"),
    ("input_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("cached_input_tokens", "bigint"),
    ("reasoning_tokens", "bigint"),
    ("cost_usd", "numeric"),
    ("cache_hits", "bigint"),
    ("latency_ms_sum", "float8"),
)
_SUMMED = [name for name, _ in _ROLLUP_COLUMNS[8:]]
_UPSERT_USAGE = text(
    "INSERT INTO usage_daily ({names}) SELECT * FROM unnest({arrays}) "
    "ON CONFLICT (org_id, day, router_id, provider, model, api_key_id, virtual_key_id, team_id) "
    "DO UPDATE SET {updates}".format(
        names=", ".join(name for name, _ in _ROLLUP_COLUMNS),
        arrays=", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _ROLLUP_COLUMNS),
        updates=", ".join(f"{name} = usage_daily.{name} + EXCLUDED.{name}" for name in _SUMMED),
    )
)

_ANY_WEBHOOK = text("SELECT EXISTS (SELECT 1 FROM webhooks WHERE enabled)")
_ENQUEUE_DELIVERIES = text(
    "INSERT INTO webhook_deliveries "
    "(webhook_id, org_id, event_id, event_type, payload, status, next_attempt_at) "
    "SELECT w.id, e.org_id, e.event_id, e.event_type, e.payload, 'pending', now() "
    "FROM unnest(CAST(:event_id AS text[]), CAST(:org_id AS text[]), "
    "CAST(:router_id AS text[]), CAST(:event_type AS text[]), CAST(:payload AS text[])) "
    "AS e(event_id, org_id, router_id, event_type, payload) "
    "JOIN webhooks w ON w.org_id = e.org_id AND w.router_id = e.router_id AND w.enabled "
    "AND w.event_types @> jsonb_build_array(e.event_type) "
    "ORDER BY w.id, e.event_id "
    "ON CONFLICT (webhook_id, event_id) DO NOTHING RETURNING id"
)


@dataclass(frozen=True, slots=True)
class NewLog:
    """An inference logged for the first time (metrics count only these)."""

    event: InferenceCompleted | InferenceFailed


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one batch changed."""

    new_logs: list[NewLog]
    new_payloads: int
    deliveries: int


def _logged(event: InferenceCompleted | InferenceFailed) -> LoggedInference:
    return LoggedInference(
        org_id=event.org_id,
        occurred_at=event.occurred_at,
        failed=isinstance(event, InferenceFailed),
        billed=is_billed(event),
        router_id=event.router_id,
        provider=event.provider,
        model=event.model,
        api_key_id=event.api_key_id,
        virtual_key_id=event.virtual_key_id,
        team_id=event.team_id,
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        cached_input_tokens=event.cached_input_tokens,
        reasoning_tokens=event.reasoning_tokens,
        cost_usd=Decimal(repr(event.cost_usd)),
        latency_ms=event.latency_ms,
        cache_hit=event.cache_hit,
    )


class InferenceLogWriter:
    """The batch write of inference events (see the module docstring)."""

    async def write(
        self, session: AsyncSession, batch: Sequence[tuple[Event, bytes]]
    ) -> WriteResult:
        """Write one batch; `bytes` is each event's JSON as published (webhook bodies)."""
        facts: dict[str, tuple[InferenceCompleted | InferenceFailed, bytes]] = {}
        payloads: dict[str, InferencePayloadCaptured] = {}
        for event, raw in batch:
            if isinstance(event, InferenceCompleted | InferenceFailed):
                facts[event.event_id] = (event, raw)
            elif isinstance(event, InferencePayloadCaptured):
                payloads[event.event_id] = event
        new_logs = await self._insert_logs(session, [event for event, _ in facts.values()])
        if new_logs:
            await self._add_usage(session, new_logs)
        deliveries = await self._enqueue_deliveries(
            session, [facts[log.event.event_id] for log in new_logs]
        )
        new_payloads = await self._insert_payloads(session, list(payloads.values()))
        return WriteResult(new_logs=new_logs, new_payloads=new_payloads, deliveries=deliveries)

    async def _insert_logs(
        self, session: AsyncSession, events: list[InferenceCompleted | InferenceFailed]
    ) -> list[NewLog]:
        if not events:
            return []
        rows: dict[str, list[object]] = {name: [] for name, _ in _LOG_COLUMNS}
        for event in events:
            failed = isinstance(event, InferenceFailed)
            values = msgspec.structs.asdict(event)
            values["status"] = "failed" if failed else "completed"
            values["time_to_first_token_ms"] = event.time_to_first_token_ms
            values["error_class"] = event.error_class if isinstance(event, InferenceFailed) else ""
            values["error_message"] = (
                event.error_message if isinstance(event, InferenceFailed) else ""
            )
            values["cost_usd"] = Decimal(repr(event.cost_usd))
            for name, _ in _LOG_COLUMNS:
                rows[name].append(values[name])
        inserted = {row[0] for row in (await session.execute(_INSERT_LOGS, rows)).all()}
        return [NewLog(event) for event in events if event.event_id in inserted]

    async def _add_usage(self, session: AsyncSession, new_logs: list[NewLog]) -> None:
        rows: dict[str, list[object]] = {name: [] for name, _ in _ROLLUP_COLUMNS}
        for key, totals in roll_up(_logged(log.event) for log in new_logs):
            for name, _ in _ROLLUP_COLUMNS[:8]:
                rows[name].append(getattr(key, name))
            for name in _SUMMED:
                rows[name].append(getattr(totals, name))
        await session.execute(_UPSERT_USAGE, rows)

    async def _enqueue_deliveries(
        self,
        session: AsyncSession,
        new_facts: list[tuple[InferenceCompleted | InferenceFailed, bytes]],
    ) -> int:
        routed = [(event, raw) for event, raw in new_facts if event.router_id]
        if not routed or not (await session.execute(_ANY_WEBHOOK)).scalar_one():
            return 0
        result = await session.execute(
            _ENQUEUE_DELIVERIES,
            {
                "event_id": [event.event_id for event, _ in routed],
                "org_id": [event.org_id for event, _ in routed],
                "router_id": [event.router_id for event, _ in routed],
                "event_type": [event.type for event, _ in routed],
                "payload": [raw.decode("utf-8") for _, raw in routed],
            },
        )
        return len(result.all())

    async def _insert_payloads(
        self, session: AsyncSession, payloads: list[InferencePayloadCaptured]
    ) -> int:
        if not payloads:
            return 0
        rows: dict[str, list[object]] = {name: [] for name, _ in _PAYLOAD_COLUMNS}
        for payload in payloads:
            values = msgspec.structs.asdict(payload)
            for name, _ in _PAYLOAD_COLUMNS:
                rows[name].append(values[name])
        return len((await session.execute(_INSERT_PAYLOADS, rows)).all())
