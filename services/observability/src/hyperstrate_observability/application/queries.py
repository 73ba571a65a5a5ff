"""Observability queries: inference logs, usage and cost, audit log, health status.

Every query is scoped by the caller's organisation; another organisation's log, webhook,
registration, team or virtual key is a 404, as is an id that does not exist.
"""

from __future__ import annotations

from typing import Literal

from hyperstrate_contracts.budgets import BudgetSpend, BudgetSpendRequest
from hyperstrate_kit.database import Database
from hyperstrate_kit.errors import NotFoundError
from hyperstrate_kit.http import PageParams
from hyperstrate_kit.sessions import Principal
from hyperstrate_observability.application import dto
from hyperstrate_observability.application.ports import Ownership
from hyperstrate_observability.domain.model import (
    LogNotFound,
    RegistrationNotFound,
    TeamNotFound,
    VirtualKeyNotFound,
)
from hyperstrate_observability.domain.usage import Dimension
from hyperstrate_observability.infrastructure.budget_spend import budget_spend
from hyperstrate_observability.infrastructure.repository import ObservabilityRepository

__all__ = ["ObservabilityQueries", "Spender"]

#: Whose spend a question asks for.
Spender = Literal["team", "virtual_key"]
#: The 404 of a spender that is not the caller's organisation's.
_SPENDER_NOT_FOUND: dict[Spender, type[NotFoundError]] = {
    "team": TeamNotFound,
    "virtual_key": VirtualKeyNotFound,
}


class ObservabilityQueries:
    """Read-side use cases of the observability API."""

    def __init__(
        self, database: Database, repository: ObservabilityRepository, owners: Ownership
    ) -> None:
        self.database = database
        self.repo = repository
        self.owners = owners

    async def logs(
        self, principal: Principal, where: dto.LogFilter, offset: int, limit: int
    ) -> dto.OffsetPage[dto.LogView]:
        """The organisation's inference logs, newest first."""
        async with self.database.sessions() as session:
            items, total = await self.repo.logs(session, principal.org_id, where, offset, limit)
        return dto.OffsetPage(
            items=items, page=offset // limit + 1, per_page=limit, total=total, offset=offset
        )

    async def budget_spend(self, question: BudgetSpendRequest) -> BudgetSpend:
        """What cap subjects spent per period (`svc.observability.budget_spend`)."""
        async with self.database.sessions() as session:
            return await budget_spend(session, question)

    async def log(self, principal: Principal, log_id: str) -> dto.LogDetail:
        """One inference log, with its request and response bodies when they were captured."""
        async with self.database.sessions() as session:
            found = await self.repo.log(session, principal.org_id, log_id)
            if found is None:
                raise LogNotFound()
            payload = await self.repo.payload(session, principal.org_id, found.request_id)
        return dto.LogDetail(log=found, payload=payload)

    async def usage(
        self, principal: Principal, where: dto.UsageFilter, group_by: Dimension, page: PageParams
    ) -> dto.UsageReport:
        """Usage and cost over whole days, grouped by one dimension."""
        async with self.database.sessions() as session:
            totals, rows, total = await self.repo.usage(
                session, principal.org_id, where, group_by, page
            )
        return dto.UsageReport(
            group_by=group_by,
            from_=where.first_day,
            to=where.last_day,
            totals=totals,
            items=rows,
            page=page.page,
            per_page=page.per_page,
            total=total,
        )

    async def spend(
        self, principal: Principal, kind: Spender, spender_id: str, where: dto.UsageFilter
    ) -> dto.Spend:
        """A team's or virtual key's requests and cost (`where` names which); a 404 when it
        is not one of the caller's organisation."""
        if not await self.owners.owns(principal.org_id, kind, spender_id):
            raise _SPENDER_NOT_FOUND[kind]()
        async with self.database.sessions() as session:
            totals = await self.repo.spend(session, principal.org_id, where)
        return dto.Spend(
            id=spender_id,
            used_requests=totals.billed_requests,
            failed_requests=totals.failed_requests,
            used_cost_usd=totals.cost_usd,
            from_=where.first_day,
            to=where.last_day,
        )

    async def audit(
        self, principal: Principal, where: dto.AuditFilter, page: PageParams
    ) -> tuple[list[dto.AuditEntryView], int]:
        """Who did what, when, in the organisation; newest first."""
        async with self.database.sessions() as session:
            return await self.repo.audit(session, principal.org_id, where, page)

    async def health_statuses(
        self, principal: Principal, page: PageParams, healthy: bool | None
    ) -> tuple[list[dto.HealthView], int]:
        """The organisation's registrations as last probed (unhealthy first)."""
        async with self.database.sessions() as session:
            return await self.repo.health_statuses(session, principal.org_id, page, healthy)

    async def health(self, principal: Principal, registration_id: str) -> dto.HealthDetail:
        """One registration's status and its recent probes."""
        async with self.database.sessions() as session:
            status = await self.repo.health_status(session, principal.org_id, registration_id)
            if status is None:
                raise RegistrationNotFound()
            checks = await self.repo.recent_checks(session, principal.org_id, registration_id)
        return dto.HealthDetail(status=status, recent_checks=checks)
