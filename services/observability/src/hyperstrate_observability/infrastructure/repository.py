"""Queries over the observability tables; every one is scoped by organisation."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from sqlalchemy import BigInteger, ColumnElement, Float, Select, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hyperstrate_kit.http import PageParams
from hyperstrate_observability.application.dto import (
    AuditEntryView,
    AuditFilter,
    DeliveryView,
    HealthCheckView,
    HealthView,
    LogFilter,
    LogView,
    PayloadView,
    UsageFilter,
    UsageRow,
    UsageTotals,
    WebhookView,
)
from hyperstrate_observability.domain.dates import DateRange
from hyperstrate_observability.domain.usage import Dimension
from hyperstrate_observability.infrastructure.tables import (
    audit_log,
    health_checks,
    inference_logs,
    inference_payloads,
    registration_health,
    usage_daily,
    webhook_deliveries,
    webhooks,
)

__all__ = ["ObservabilityRepository"]

V = TypeVar("V", bound=msgspec.Struct)

_LOG_COLUMNS = [
    *(c for c in inference_logs.c if c.name not in ("event_id", "cost_usd")),
    inference_logs.c.event_id.label("id"),
    cast(inference_logs.c.cost_usd, Float).label("cost_usd"),
]


def _view(row: Any, view: type[V]) -> V:
    # Attribute access uses the Python field names, not the camelCase wire names.
    return msgspec.convert(row, view, from_attributes=True)


def _in_range(column: Any, period: DateRange) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if period.start is not None:
        conditions.append(column >= period.start)
    if period.end is not None:
        conditions.append(column < period.end)
    return conditions


def _sum(column: Any) -> Any:
    # sum(bigint) is numeric in PostgreSQL: back to bigint for the views.
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


def _usage_totals() -> list[Any]:
    u = usage_daily.c
    return [
        _sum(u.requests).label("requests"),
        _sum(u.failed_requests).label("failed_requests"),
        _sum(u.billed_requests).label("billed_requests"),
        _sum(u.input_tokens).label("input_tokens"),
        _sum(u.output_tokens).label("output_tokens"),
        _sum(u.cached_input_tokens).label("cached_input_tokens"),
        _sum(u.reasoning_tokens).label("reasoning_tokens"),
        cast(func.coalesce(func.sum(u.cost_usd), 0), Float).label("cost_usd"),
        _sum(u.cache_hits).label("cache_hits"),
        cast(
            func.coalesce(func.sum(u.latency_ms_sum) / func.nullif(func.sum(u.requests), 0), 0),
            Float,
        ).label("avg_latency_ms"),
    ]


class ObservabilityRepository:
    """Reads of the observability service's tables."""

    async def _page(
        self,
        session: AsyncSession,
        query: Select[Any],
        view: type[V],
        offset: int,
        limit: int,
        *order: Any,
    ) -> tuple[list[V], int]:
        total = (
            await session.execute(select(func.count()).select_from(query.order_by(None).subquery()))
        ).scalar_one()
        rows = (await session.execute(query.order_by(*order).offset(offset).limit(limit))).all()
        return [_view(row, view) for row in rows], int(total)

    # -- inference logs -----------------------------------------------------------------

    async def logs(
        self, session: AsyncSession, org_id: str, where: LogFilter, offset: int, limit: int
    ) -> tuple[list[LogView], int]:
        """The organisation's logs matching the filter, newest first."""
        c = inference_logs.c
        conditions = [c.org_id == org_id, *_in_range(c.occurred_at, where.range)]
        for column, value in (
            (c.router_id, where.router_id),
            (c.status, where.status),
            (c.model, where.model),
            (c.provider, where.provider),
            (c.api_key_id, where.api_key_id),
            (c.virtual_key_id, where.virtual_key_id),
            (c.team_id, where.team_id),
        ):
            if value is not None:
                conditions.append(column == value)
        query = select(*_LOG_COLUMNS).where(*conditions)
        return await self._page(
            session, query, LogView, offset, limit, c.occurred_at.desc(), c.event_id.desc()
        )

    async def log(self, session: AsyncSession, org_id: str, log_id: str) -> LogView | None:
        """One log of the organisation."""
        query = select(*_LOG_COLUMNS).where(
            inference_logs.c.event_id == log_id, inference_logs.c.org_id == org_id
        )
        row = (await session.execute(query)).first()
        return _view(row, LogView) if row else None

    async def payload(
        self, session: AsyncSession, org_id: str, request_id: str
    ) -> PayloadView | None:
        """The request and response bodies captured for a request, if any."""
        p = inference_payloads.c
        query = (
            select(
                p.request_body,
                p.response_body,
                p.request_truncated,
                p.response_truncated,
                p.occurred_at.label("captured_at"),
            )
            .where(p.org_id == org_id, p.request_id == request_id)
            .order_by(p.occurred_at.desc())
            .limit(1)
        )
        row = (await session.execute(query)).first()
        return _view(row, PayloadView) if row else None

    # -- usage --------------------------------------------------------------------------

    def _usage_conditions(self, org_id: str, where: UsageFilter) -> list[ColumnElement[bool]]:
        u = usage_daily.c
        conditions = [u.org_id == org_id, u.day >= where.first_day, u.day <= where.last_day]
        for column, value in (
            (u.router_id, where.router_id),
            (u.model, where.model),
            (u.provider, where.provider),
            (u.api_key_id, where.api_key_id),
            (u.virtual_key_id, where.virtual_key_id),
            (u.team_id, where.team_id),
        ):
            if value is not None:
                conditions.append(column == value)
        return conditions

    async def usage(
        self,
        session: AsyncSession,
        org_id: str,
        where: UsageFilter,
        group_by: Dimension,
        page: PageParams,
    ) -> tuple[UsageTotals, list[UsageRow], int]:
        """Totals over the filter, and one row per value of `group_by` (by cost, then key)."""
        conditions = self._usage_conditions(org_id, where)
        totals_row = (await session.execute(select(*_usage_totals()).where(*conditions))).one()
        totals = _view(totals_row, UsageTotals)
        column = usage_daily.c[group_by.column]
        key = (
            func.to_char(column, "YYYY-MM-DD")
            if group_by is Dimension.DAY
            else func.nullif(column, "")
        ).label("key")
        grouped = select(key, *_usage_totals()).where(*conditions).group_by(column)
        order = (
            [column]
            if group_by is Dimension.DAY
            else [
                func.sum(usage_daily.c.cost_usd).desc(),
                func.sum(usage_daily.c.requests).desc(),
                column,
            ]
        )
        rows, total = await self._page(session, grouped, UsageRow, page.offset, page.limit, *order)
        return totals, rows, total

    async def spend(self, session: AsyncSession, org_id: str, where: UsageFilter) -> UsageTotals:
        """Totals over the filter (a team's or a virtual key's spend)."""
        row = (
            await session.execute(
                select(*_usage_totals()).where(*self._usage_conditions(org_id, where))
            )
        ).one()
        return _view(row, UsageTotals)

    # -- audit --------------------------------------------------------------------------

    async def audit(
        self, session: AsyncSession, org_id: str, where: AuditFilter, page: PageParams
    ) -> tuple[list[AuditEntryView], int]:
        """The organisation's audit entries, newest first."""
        a = audit_log.c
        conditions = [a.org_id == org_id, *_in_range(a.occurred_at, where.range)]
        for column, value in (
            (a.service, where.service),
            (a.type, where.type),
            (a.actor_id, where.actor_id),
            (a.actor_kind, where.actor_kind),
            (a.aggregate_id, where.aggregate_id),
        ):
            if value is not None:
                conditions.append(column == value)
        query = select(*[c for c in audit_log.c if c.name != "event_id"], a.event_id.label("id"))
        return await self._page(
            session,
            query.where(and_(*conditions)),
            AuditEntryView,
            page.offset,
            page.limit,
            a.occurred_at.desc(),
            a.event_id.desc(),
        )

    # -- health -------------------------------------------------------------------------

    async def health_statuses(
        self, session: AsyncSession, org_id: str, page: PageParams, healthy: bool | None
    ) -> tuple[list[HealthView], int]:
        """The organisation's registrations as last probed."""
        h = registration_health.c
        query = select(registration_health).where(h.org_id == org_id)
        if healthy is not None:
            query = query.where(h.healthy == healthy)
        return await self._page(
            session, query, HealthView, page.offset, page.limit, h.healthy, h.registration_id
        )

    async def health_status(
        self, session: AsyncSession, org_id: str, registration_id: str
    ) -> HealthView | None:
        """One registration's status."""
        h = registration_health.c
        query = select(registration_health).where(
            h.org_id == org_id, h.registration_id == registration_id
        )
        row = (await session.execute(query)).first()
        return _view(row, HealthView) if row else None

    async def recent_checks(
        self, session: AsyncSession, org_id: str, registration_id: str, limit: int = 50
    ) -> list[HealthCheckView]:
        """A registration's latest probes, newest first."""
        h = health_checks.c
        query = (
            select(health_checks)
            .where(h.org_id == org_id, h.registration_id == registration_id)
            .order_by(h.checked_at.desc(), h.id.desc())
            .limit(limit)
        )
        return [_view(row, HealthCheckView) for row in (await session.execute(query)).all()]

    # -- webhooks -----------------------------------------------------------------------

    async def webhook(
        self, session: AsyncSession, org_id: str, webhook_id: str, *, lock: bool = False
    ) -> tuple[WebhookView, int] | None:
        """One webhook of the organisation and its stream version."""
        query = select(webhooks).where(webhooks.c.id == webhook_id, webhooks.c.org_id == org_id)
        row = (await session.execute(query.with_for_update() if lock else query)).first()
        return (_view(row, WebhookView), int(row.stream_version)) if row else None

    async def webhooks_of(
        self, session: AsyncSession, org_id: str, router_id: str | None, page: PageParams
    ) -> tuple[list[WebhookView], int]:
        """The organisation's webhooks, optionally one router's."""
        query = select(webhooks).where(webhooks.c.org_id == org_id)
        if router_id is not None:
            query = query.where(webhooks.c.router_id == router_id)
        return await self._page(
            session,
            query,
            WebhookView,
            page.offset,
            page.limit,
            webhooks.c.created_at,
            webhooks.c.id,
        )

    async def deliveries(
        self,
        session: AsyncSession,
        org_id: str,
        webhook_id: str,
        status: str | None,
        page: PageParams,
    ) -> tuple[list[DeliveryView], int]:
        """A webhook's deliveries, newest first."""
        d = webhook_deliveries.c
        query = select(*[c for c in webhook_deliveries.c if c.name != "payload"]).where(
            d.org_id == org_id, d.webhook_id == webhook_id
        )
        if status is not None:
            query = query.where(d.status == status)
        return await self._page(session, query, DeliveryView, page.offset, page.limit, d.id.desc())

    async def delivery(
        self, session: AsyncSession, org_id: str, webhook_id: str, delivery_id: int
    ) -> DeliveryView | None:
        """One delivery of a webhook."""
        d = webhook_deliveries.c
        query = select(*[c for c in webhook_deliveries.c if c.name != "payload"]).where(
            d.org_id == org_id, d.webhook_id == webhook_id, d.id == delivery_id
        )
        row = (await session.execute(query)).first()
        return _view(row, DeliveryView) if row else None
